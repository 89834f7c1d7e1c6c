"""Bytes in and out: the serial port to the radio dongle and MQTT brokers."""
