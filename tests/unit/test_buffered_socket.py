"""BufferedSocket hands paho exactly the byte stream the kernel delivered, in any piece sizes."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.transports.buffered_socket import READ_SIZE, BufferedSocket


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    a.setblocking(False)
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def drain(sock: BufferedSocket, sizes: list[int]) -> bytes:
    """Read with paho's habit of small requests, cycling through ``sizes``, until nothing is ready."""
    out = bytearray()
    i = 0
    while True:
        try:
            piece = sock.recv(sizes[i % len(sizes)])
        except BlockingIOError:
            return bytes(out)
        if not piece:
            return bytes(out)
        out += piece
        i += 1


@settings(max_examples=60, deadline=None)
@given(
    chunks=st.lists(st.binary(min_size=1, max_size=3000), min_size=1, max_size=8),
    sizes=st.lists(st.integers(min_value=1, max_value=5000), min_size=1, max_size=6),
)
def test_any_request_sizes_return_the_stream_unchanged(chunks: list[bytes], sizes: list[int]) -> None:
    a, b = socket.socketpair()
    a.setblocking(False)
    try:
        buffered = BufferedSocket(a)
        received = bytearray()
        for chunk in chunks:
            b.sendall(chunk)
            received += drain(buffered, sizes)
        assert bytes(received) == b"".join(chunks)
        assert buffered.pending() == 0
    finally:
        a.close()
        b.close()


def test_one_system_call_serves_many_small_requests(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    buffered = BufferedSocket(a)
    b.sendall(b"x" * 1000)
    assert buffered.recv(1) == b"x"
    assert buffered.pending() == 999
    assert drain(buffered, [2, 5]) == b"x" * 999
    assert buffered.reads == 2  # the read that filled the buffer, and the one that found nothing


def test_a_request_never_returns_more_than_asked_or_what_a_read_brought(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    buffered = BufferedSocket(a)
    b.sendall(b"abc")
    assert buffered.recv(2) == b"ab"
    assert buffered.recv(10) == b"c"  # short, like a socket's own recv
    with pytest.raises(BlockingIOError):
        buffered.recv(1)


def test_reads_are_large(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    b.setblocking(True)
    buffered = BufferedSocket(a)
    b.sendall(b"y" * (3 * READ_SIZE))
    buffered.recv(1)
    assert buffered.pending() > READ_SIZE // 2


def test_end_of_stream_reads_empty(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    buffered = BufferedSocket(a)
    b.sendall(b"last")
    b.close()
    assert buffered.recv(10) == b"last"
    assert buffered.recv(10) == b""


def test_other_calls_reach_the_socket(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    buffered = BufferedSocket(a)
    assert buffered.fileno() == a.fileno()
    assert buffered.send(b"hi") == 2
    assert b.recv(2) == b"hi"
