// Energy model of a light-harvesting sensor node, and the simulator, policies,
// offline optimum (oracle) and learner that schedule its sensing.
//
// A node stores harvested light in a supercapacitor and spends it on a sleep
// current, PIR event bursts and radio reports. All loads are currents drawn at
// the capacitor's present voltage, so a load of I amperes for t seconds costs
// V * I * t joules (power = V * I) with V the voltage at the start of the
// simulation step. The node browns out when the voltage falls to the cut-off
// and stays off, drawing nothing, until the voltage rises above the restart
// voltage. Time advances in fixed steps (default 60 s); the light level is
// constant within a step and the events of a step see the node's state at its
// start.
//
// Defaults are the node of Ember (Fraternali et al., SenSys 2020) as quoted in
// issue 6; docs/energy-harvesting.md gives the sources.
//
// Plain C++17, no Python, no global state.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace edgewise::energy {

/// Physical parameters of one node type. validate() throws std::invalid_argument.
struct NodeParams {
    double capacitance_f = 1.5;      ///< supercapacitor
    double v_max = 5.5;              ///< the capacitor is full here; more harvest is spilled
    double v_cutoff = 2.3;           ///< brown-out at or below this voltage
    double v_restart = 3.0;          ///< a browned-out node restarts only above this voltage
    double v_initial = 3.5;          ///< voltage at the start of a run
    double harvest_v = 1.5;          ///< harvester output voltage at the reference light
    double harvest_a = 33.3e-6;      ///< harvester current at the reference light
    double harvest_ref_lux = 200.0;  ///< harvest power is linear in lux through this point
    double sleep_a = 3.45e-6;        ///< always drawn while the node is on
    double pir_a = 102e-6;           ///< PIR sensing burst current
    double pir_event_s = 2.5;        ///< PIR burst length per detected event
    double radio_a = 65e-6;          ///< radio report, first phase current
    double radio_s = 11.0;           ///< radio report, first phase length
    double radio_tx_a = 300e-6;      ///< radio report, transmit phase current
    double radio_tx_s = 5.0;         ///< radio report, transmit phase length

    void validate() const;
    double energy_at(double volts) const noexcept { return 0.5 * capacitance_f * volts * volts; }
    double voltage_at(double joules) const noexcept;
    double harvest_w(double lux) const noexcept { return harvest_v * harvest_a * lux / harvest_ref_lux; }
    double report_charge_c() const noexcept { return radio_a * radio_s + radio_tx_a * radio_tx_s; }
    double event_charge_c() const noexcept { return pir_a * pir_event_s; }
};

/// A sensing mode the gateway can command.
struct Mode {
    bool pir_on;
    double report_interval_s;
};

/// The modes policies choose among, by index: PIR off/on x report every 15 min, 1 h, 4 h.
inline constexpr std::size_t kModeCount = 6;
inline constexpr std::array<Mode, kModeCount> kModes{{
    {false, 900.0}, {false, 3600.0}, {false, 14400.0},
    {true, 900.0}, {true, 3600.0}, {true, 14400.0},
}};

/// Totals of a run. Energy balance: final - initial capacitor energy ==
/// harvested_j - spilled_j - consumed_j (up to rounding).
struct Ledger {
    double harvested_j = 0.0;   ///< light energy delivered by the harvester
    double spilled_j = 0.0;     ///< harvest that did not fit (capacitor at v_max)
    double consumed_j = 0.0;    ///< drawn by sleep, PIR and radio
    std::int64_t events_total = 0;
    std::int64_t events_detected = 0;
    std::int64_t reports = 0;
    double brownout_s = 0.0;    ///< time spent browned out
    double min_voltage = std::numeric_limits<double>::infinity();  ///< lowest voltage after any step
};

/// What the node is now; also what the gateway last heard from it.
struct NodeState {
    double energy_j = 0.0;
    bool alive = true;
    double clock_s = 0.0;           ///< time since the start of the run
    double last_report_v = 0.0;     ///< voltage in the last report (what the gateway knows)
    double last_report_lux = 0.0;   ///< mean light since the report before it
    double lux_sum = 0.0;           ///< lux * s accumulated since the last report
    double lux_time = 0.0;

    static NodeState initial(const NodeParams& p);
};

/// Advance one step of dt seconds at `lux` with `events` PIR events in it.
/// Reports are aligned to the clock: a node on at a multiple of its report
/// interval reports then (at the end of the step that reaches it), so the
/// report schedule depends on the time and the mode only, never on history.
void step(const NodeParams& p, NodeState& s, const Mode& mode, double lux, double dt, std::int32_t events,
          Ledger& ledger);

/// Light and events on a fixed step grid. t = 0 is midnight at the start of a Monday.
struct Trace {
    std::vector<double> lux;            ///< mean lux of each step
    std::vector<std::int32_t> events;   ///< PIR events in each step
    double step_s = 60.0;
    void validate() const;
    std::size_t steps() const noexcept { return lux.size(); }
};

/// What the gateway knows when it decides.
struct Observation {
    std::int64_t decision = 0;  ///< index of this decision in the run (only the oracle's plan uses it)
    int hour = 0;               ///< hour of the day 0-23
    double voltage = 0.0;       ///< last reported voltage
    double lux = 0.0;           ///< mean light the last report carried
};

class Policy {
public:
    virtual ~Policy() = default;
    /// Index into kModes.
    virtual int decide(const Observation& obs) const = 0;
};

/// Always the same mode (default: PIR on, report every 15 minutes).
class FixedPolicy final : public Policy {
public:
    explicit FixedPolicy(int mode = 3);
    int decide(const Observation&) const override { return mode_; }

private:
    int mode_;
};

/// Energy thresholds on the last reported voltage: the more stored energy, the
/// more the node may spend. PIR off below `pir_off_v`.
class GreedyPolicy final : public Policy {
public:
    GreedyPolicy(double pir_off_v = 2.6, double slow_v = 3.2, double fast_v = 4.0);
    int decide(const Observation& obs) const override;

private:
    double pir_off_v_, slow_v_, fast_v_;
};

/// Bin edges of the learned table's observation: hour x voltage bin x light bin.
struct TableShape {
    std::vector<double> voltage_edges;  ///< ascending; bin i is [edge[i-1], edge[i])
    std::vector<double> lux_edges;
    std::size_t voltage_bins() const noexcept { return voltage_edges.size() + 1; }
    std::size_t lux_bins() const noexcept { return lux_edges.size() + 1; }
    std::size_t states() const noexcept { return 24 * voltage_bins() * lux_bins(); }
    std::size_t index(const Observation& obs) const noexcept;
    void validate() const;
};

/// A lookup table of modes over TableShape states: what `learned` loads from JSON.
class TablePolicy final : public Policy {
public:
    TablePolicy(TableShape shape, std::vector<std::int8_t> modes);
    int decide(const Observation& obs) const override { return modes_[shape_.index(obs)]; }
    const TableShape& shape() const noexcept { return shape_; }
    const std::vector<std::int8_t>& modes() const noexcept { return modes_; }

private:
    TableShape shape_;
    std::vector<std::int8_t> modes_;
};

/// A fixed sequence of modes, one per decision (the oracle's plan).
class PlanPolicy final : public Policy {
public:
    explicit PlanPolicy(std::vector<std::int8_t> plan);
    int decide(const Observation& obs) const override;

private:
    std::vector<std::int8_t> plan_;
};

struct SimResult {
    Ledger ledger;
    double final_energy_j = 0.0;
    double initial_energy_j = 0.0;
    std::int64_t decisions = 0;
    std::array<std::int64_t, kModeCount> mode_counts{};
    std::vector<std::int8_t> modes;  ///< mode chosen at each decision
};

/// Run `policy` over `trace`, deciding every `decision_s` seconds (a whole number of steps).
SimResult simulate(const NodeParams& p, const Trace& trace, const Policy& policy, double decision_s);

/// The oracle: dynamic programming over (decision, on/off, capacitor voltage on
/// a grid of `grid` points) that knows the whole trace, maximising detected events.
///
/// exact = false (long traces): each period is one lumped step (its harvest,
/// events and report charge at the starting voltage), the value function is
/// interpolated linearly between grid points, and the plan is chosen forward
/// from the exact state. A year takes well under a second; the plan is
/// near-optimal, not provably optimal.
///
/// exact = true (short traces): periods are simulated step by step and the
/// value function is looked up at the grid point above (an upper bound, since
/// more stored energy never detects fewer events); a branch-and-bound search
/// over mode sequences, simulated exactly and pruned by that bound, then
/// returns an optimal plan. Throws if the search visits more than `max_nodes` decisions.
std::vector<std::int8_t> oracle_plan(const NodeParams& p, const Trace& trace, double decision_s, int grid,
                                     bool exact, std::int64_t max_nodes = 2'000'000);

/// Exhaustive search over every mode sequence (kModeCount^decisions): the most
/// events any plan detects. Only for tiny traces (tests of the oracle).
std::int64_t brute_force_best(const NodeParams& p, const Trace& trace, double decision_s);

struct QLearningConfig {
    int episodes_per_trace = 20;
    double alpha = 0.1;
    double gamma = 0.995;
    double epsilon = 0.1;
    double brownout_penalty_per_h = 200.0;  ///< reward lost per hour browned out; a detected event earns 1
    double energy_cost_per_j = 10.0;        ///< reward lost per joule consumed: prefer the frugal of equal modes
    std::uint64_t seed = 1;
    /// A PIR-off mode goes into the table only if its value beats the best
    /// PIR-on mode's by more than this many detected events: an hour with the
    /// PIR off misses every event in it for certain, while near-equal values
    /// are mostly the noise of a few visits.
    double pir_off_margin = 0.0;
};

/// The mode a table keeps for one state's action values: the best, unless it
/// turns the PIR off and some PIR-on mode is within `pir_off_margin` of it.
int table_mode(const double* q, double pir_off_margin);

/// Tabular Q-learning over TableShape states on the given traces; returns the greedy table.
/// Reward per decision period: detected events - energy_cost_per_j * joules consumed
/// - brownout_penalty_per_h * hours browned out. States never visited get PIR on,
/// a report every 4 h; the others table_mode(). The learning rate of a
/// (state, mode) pair is max(alpha, 1 / visits), so early estimates settle fast.
TablePolicy train_q_learning(const NodeParams& p, const std::vector<Trace>& traces, double decision_s,
                             const TableShape& shape, const QLearningConfig& config);

}  // namespace edgewise::energy
