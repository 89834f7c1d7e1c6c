// Energy model, simulator and policies of a light-harvesting sensor node (energy.hpp).
#include "edgewise/energy.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

namespace edgewise::energy {

namespace {

void require(bool ok, const std::string& message) {
    if (!ok) throw std::invalid_argument(message);
}

bool positive(double x) { return std::isfinite(x) && x > 0.0; }
bool non_negative(double x) { return std::isfinite(x) && x >= 0.0; }

}  // namespace

void NodeParams::validate() const {
    require(positive(capacitance_f), "capacitance_f must be > 0");
    require(positive(v_cutoff), "v_cutoff must be > 0");
    require(std::isfinite(v_restart) && v_restart > v_cutoff, "v_restart must be above v_cutoff");
    require(std::isfinite(v_max) && v_max > v_restart, "v_max must be above v_restart");
    require(std::isfinite(v_initial) && v_initial > v_cutoff && v_initial <= v_max,
            "v_initial must be above v_cutoff and at most v_max");
    require(positive(harvest_v) && non_negative(harvest_a) && positive(harvest_ref_lux),
            "harvest_v and harvest_ref_lux must be > 0, harvest_a >= 0");
    for (double a : {sleep_a, pir_a, pir_event_s, radio_a, radio_s, radio_tx_a, radio_tx_s}) {
        require(non_negative(a), "load currents and durations must be >= 0");
    }
}

double NodeParams::voltage_at(double joules) const noexcept {
    return joules > 0.0 ? std::sqrt(2.0 * joules / capacitance_f) : 0.0;
}

NodeState NodeState::initial(const NodeParams& p) {
    NodeState s;
    s.energy_j = p.energy_at(p.v_initial);
    s.last_report_v = p.v_initial;
    return s;
}

void step(const NodeParams& p, NodeState& s, const Mode& mode, double lux, double dt, std::int32_t events,
          Ledger& ledger) {
    const double volts = p.voltage_at(s.energy_j);
    double charge = 0.0;
    ledger.events_total += events;
    if (s.alive) {
        charge = p.sleep_a * dt;
        if (mode.pir_on && events > 0) {
            charge += p.event_charge_c() * events;
            ledger.events_detected += events;
        }
        s.lux_sum += lux * dt;
        s.lux_time += dt;
        const double before = std::floor(s.clock_s / mode.report_interval_s + 1e-9);
        const double after = std::floor((s.clock_s + dt) / mode.report_interval_s + 1e-9);
        if (after > before) {
            charge += p.report_charge_c();
            s.last_report_v = volts;
            s.last_report_lux = s.lux_sum / s.lux_time;
            s.lux_sum = s.lux_time = 0.0;
            ++ledger.reports;
        }
    } else {
        ledger.brownout_s += dt;
    }
    s.clock_s += dt;
    const double harvested = p.harvest_w(lux) * dt;
    // A load cannot take more than is stored.
    const double consumed = std::min(volts * charge, s.energy_j + harvested);
    double energy = s.energy_j + harvested - consumed;
    const double full = p.energy_at(p.v_max);
    double spilled = 0.0;
    if (energy > full) {
        spilled = energy - full;
        energy = full;
    }
    ledger.harvested_j += harvested;
    ledger.consumed_j += consumed;
    ledger.spilled_j += spilled;
    s.energy_j = energy;
    const double after = p.voltage_at(energy);
    ledger.min_voltage = std::min(ledger.min_voltage, after);
    if (s.alive && after <= p.v_cutoff) {
        s.alive = false;
    } else if (!s.alive && after > p.v_restart) {
        s.alive = true;
    }
}

void Trace::validate() const {
    require(positive(step_s), "step_s must be > 0");
    require(events.size() == lux.size(), "lux and events must have one value per step");
    for (double x : lux) require(non_negative(x), "lux must be finite and >= 0");
    for (std::int32_t e : events) require(e >= 0, "event counts must be >= 0");
}

FixedPolicy::FixedPolicy(int mode) : mode_(mode) {
    require(mode >= 0 && mode < static_cast<int>(kModeCount), "mode must be 0-5");
}

GreedyPolicy::GreedyPolicy(double pir_off_v, double slow_v, double fast_v)
    : pir_off_v_(pir_off_v), slow_v_(slow_v), fast_v_(fast_v) {
    require(pir_off_v <= slow_v && slow_v <= fast_v, "greedy thresholds must be ascending");
}

int GreedyPolicy::decide(const Observation& obs) const {
    if (obs.voltage < pir_off_v_) return 2;  // PIR off, report every 4 h
    if (obs.voltage < slow_v_) return 5;     // PIR on, every 4 h
    if (obs.voltage < fast_v_) return 4;     // PIR on, hourly
    return 3;                                // PIR on, every 15 min
}

namespace {

std::size_t bin_of(const std::vector<double>& edges, double x) noexcept {
    return static_cast<std::size_t>(std::upper_bound(edges.begin(), edges.end(), x) - edges.begin());
}

}  // namespace

std::size_t TableShape::index(const Observation& obs) const noexcept {
    const auto hour = static_cast<std::size_t>(((obs.hour % 24) + 24) % 24);
    return (hour * voltage_bins() + bin_of(voltage_edges, obs.voltage)) * lux_bins() + bin_of(lux_edges, obs.lux);
}

void TableShape::validate() const {
    require(std::is_sorted(voltage_edges.begin(), voltage_edges.end()), "voltage_edges must be ascending");
    require(std::is_sorted(lux_edges.begin(), lux_edges.end()), "lux_edges must be ascending");
}

TablePolicy::TablePolicy(TableShape shape, std::vector<std::int8_t> modes)
    : shape_(std::move(shape)), modes_(std::move(modes)) {
    shape_.validate();
    require(modes_.size() == shape_.states(),
            "table has " + std::to_string(modes_.size()) + " modes, its shape needs " +
                std::to_string(shape_.states()));
    for (std::int8_t m : modes_) require(m >= 0 && m < static_cast<int>(kModeCount), "table modes must be 0-5");
}

PlanPolicy::PlanPolicy(std::vector<std::int8_t> plan) : plan_(std::move(plan)) {
    for (std::int8_t m : plan_) require(m >= 0 && m < static_cast<int>(kModeCount), "plan modes must be 0-5");
}

int PlanPolicy::decide(const Observation& obs) const {
    require(obs.decision >= 0 && static_cast<std::size_t>(obs.decision) < plan_.size(),
            "the plan is shorter than the run");
    return plan_[static_cast<std::size_t>(obs.decision)];
}

namespace {

std::size_t steps_per_decision(const Trace& trace, double decision_s) {
    const double ratio = decision_s / trace.step_s;
    const double rounded = std::round(ratio);
    require(rounded >= 1.0 && std::abs(ratio - rounded) < 1e-9,
            "decision_s must be a whole number of steps (step_s)");
    return static_cast<std::size_t>(rounded);
}

Observation observe(const NodeState& s, const Trace& trace, std::size_t first_step, std::int64_t decision) {
    Observation obs;
    obs.decision = decision;
    const double t = static_cast<double>(first_step) * trace.step_s;
    obs.hour = static_cast<int>(std::fmod(std::floor(t / 3600.0), 24.0));
    obs.voltage = s.last_report_v;
    obs.lux = s.last_report_lux;
    return obs;
}

// Runs steps [first, last) in one mode.
void run_steps(const NodeParams& p, NodeState& s, const Trace& trace, std::size_t first, std::size_t last, int mode,
               Ledger& ledger) {
    const Mode& m = kModes[static_cast<std::size_t>(mode)];
    for (std::size_t k = first; k < last; ++k) step(p, s, m, trace.lux[k], trace.step_s, trace.events[k], ledger);
}

}  // namespace

SimResult simulate(const NodeParams& p, const Trace& trace, const Policy& policy, double decision_s) {
    p.validate();
    trace.validate();
    const std::size_t per = steps_per_decision(trace, decision_s);
    SimResult r;
    NodeState s = NodeState::initial(p);
    r.initial_energy_j = s.energy_j;
    r.ledger.min_voltage = p.v_initial;  // the start counts too
    r.modes.reserve(trace.steps() / per + 1);
    for (std::size_t first = 0; first < trace.steps(); first += per) {
        const int mode = policy.decide(observe(s, trace, first, r.decisions));
        require(mode >= 0 && mode < static_cast<int>(kModeCount), "a policy chose a mode outside 0-5");
        r.modes.push_back(static_cast<std::int8_t>(mode));
        ++r.mode_counts[static_cast<std::size_t>(mode)];
        ++r.decisions;
        run_steps(p, s, trace, first, std::min(first + per, trace.steps()), mode, r.ledger);
    }
    r.final_energy_j = s.energy_j;
    return r;
}

// ---------------------------------------------------------------------------- oracle

namespace {

// Capacitor energies on a grid uniform in voltage from just below the cut-off to v_max.
class VoltageGrid {
public:
    VoltageGrid(const NodeParams& p, int points) : p_(p), n_(static_cast<std::size_t>(points)) {
        require(points >= 2, "grid must have at least 2 points");
        lo_ = 0.8 * p.v_cutoff;
        dv_ = (p.v_max - lo_) / static_cast<double>(n_ - 1);
    }
    std::size_t size() const noexcept { return n_; }
    double energy(std::size_t i) const noexcept { return p_.energy_at(lo_ + dv_ * static_cast<double>(i)); }
    // The value at the first grid point at or above energy e: an upper bound of
    // a value function that does not decrease with energy.
    double ceiling(const double* values, double e) const noexcept {
        const double x = std::clamp((p_.voltage_at(e) - lo_) / dv_, 0.0, static_cast<double>(n_ - 1));
        return values[static_cast<std::size_t>(std::ceil(x - 1e-12))];
    }
    // Linear interpolation of `values` (one per grid point) at energy e, clamped to the grid.
    double interpolate(const double* values, double e) const noexcept {
        const double x = std::clamp((p_.voltage_at(e) - lo_) / dv_, 0.0, static_cast<double>(n_ - 1));
        const auto i = std::min(static_cast<std::size_t>(x), n_ - 2);
        const double w = x - static_cast<double>(i);
        return values[i] * (1.0 - w) + values[i + 1] * w;
    }

private:
    const NodeParams& p_;
    std::size_t n_;
    double lo_ = 0.0, dv_ = 0.0;
};

struct Outcome {
    NodeState state;
    std::int64_t detected = 0;
};

Outcome run_period(const NodeParams& p, NodeState s, const Trace& trace, std::size_t first, std::size_t last,
                   int mode) {
    Ledger ledger;
    run_steps(p, s, trace, first, last, mode, ledger);
    return {s, ledger.events_detected};
}

// Value of ending a period in state s, from the next decision's value table:
// interpolated (an estimate) or the grid ceiling (an upper bound).
double value_after(const VoltageGrid& grid, const std::vector<double>& next, const NodeState& s, bool bound = false) {
    const double* row = next.data() + (s.alive ? grid.size() : 0);
    return bound ? grid.ceiling(row, s.energy_j) : grid.interpolate(row, s.energy_j);
}

// Branch and bound over mode sequences, simulated exactly; `values` are upper
// bounds of what each decision can still add, so the search is exact.
class PlanSearch {
public:
    PlanSearch(const NodeParams& p, const Trace& trace, std::size_t per, const VoltageGrid& grid,
               const std::vector<std::vector<double>>& values, std::int64_t max_nodes)
        : p_(p), trace_(trace), per_(per), grid_(grid), values_(values), plan_(values.size() - 1),
          max_nodes_(max_nodes) {}

    std::vector<std::int8_t> run(const NodeState& start) {
        search(0, start, 0);
        return best_plan_;
    }

private:
    void search(std::size_t k, const NodeState& s, std::int64_t detected) {
        if (k + 1 == values_.size()) {
            if (detected > best_) {
                best_ = detected;
                best_plan_ = plan_;
            }
            return;
        }
        require(++nodes_ <= max_nodes_, "the exact oracle is for short traces; this one needs too large a search");
        const std::size_t first = k * per_, last = std::min(first + per_, trace_.steps());
        std::array<std::pair<double, int>, kModeCount> order{};
        std::array<Outcome, kModeCount> outcomes{};
        for (int mode = 0; mode < static_cast<int>(kModeCount); ++mode) {
            outcomes[static_cast<std::size_t>(mode)] = run_period(p_, s, trace_, first, last, mode);
            const Outcome& o = outcomes[static_cast<std::size_t>(mode)];
            order[static_cast<std::size_t>(mode)] = {
                static_cast<double>(detected + o.detected) + value_after(grid_, values_[k + 1], o.state, true), mode};
        }
        std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
        for (const auto& [bound, mode] : order) {
            if (bound < static_cast<double>(best_) + 0.5) break;  // cannot detect more than the best so far
            const Outcome& o = outcomes[static_cast<std::size_t>(mode)];
            plan_[k] = static_cast<std::int8_t>(mode);
            search(k + 1, o.state, detected + o.detected);
        }
    }

    const NodeParams& p_;
    const Trace& trace_;
    std::size_t per_;
    const VoltageGrid& grid_;
    const std::vector<std::vector<double>>& values_;
    std::vector<std::int8_t> plan_;
    std::vector<std::int8_t> best_plan_;
    std::int64_t max_nodes_;
    std::int64_t best_ = -1;
    std::int64_t nodes_ = 0;
};

// The physical state at a grid point: energy, on/off and the clock (reports
// follow the clock), which is all that decides what happens next.
NodeState grid_state(const NodeParams& p, double energy, bool alive, double clock_s) {
    NodeState s = NodeState::initial(p);
    s.energy_j = energy;
    s.alive = alive;
    s.clock_s = clock_s;
    return s;
}

// One decision period lumped into a single step: its harvest, its events and
// its load charge drawn at the starting voltage. The backward pass of a year-long
// DP uses this (O(1) per transition); `exact` DPs simulate every step instead.
struct Period {
    double harvest_j = 0.0;
    double seconds = 0.0;
    std::int64_t events = 0;
};

Outcome lumped_period(const NodeParams& p, const NodeState& s, const Period& period, int mode) {
    const Mode& m = kModes[static_cast<std::size_t>(mode)];
    Outcome o{s, 0};
    const double full = p.energy_at(p.v_max);
    if (!s.alive) {
        o.state.energy_j = std::min(s.energy_j + period.harvest_j, full);
        o.state.alive = p.voltage_at(o.state.energy_j) > p.v_restart;
        o.state.clock_s += period.seconds;
        return o;
    }
    const double reports = std::floor((s.clock_s + period.seconds) / m.report_interval_s + 1e-9) -
                           std::floor(s.clock_s / m.report_interval_s + 1e-9);
    const double charge = p.sleep_a * period.seconds + (m.pir_on ? p.event_charge_c() * period.events : 0.0) +
                          p.report_charge_c() * reports;
    const double drain = p.voltage_at(s.energy_j) * charge - period.harvest_j;
    const double cut = p.energy_at(p.v_cutoff);
    double alive_share = 1.0;
    if (drain > 0.0 && s.energy_j - drain <= cut) {
        alive_share = std::clamp((s.energy_j - cut) / drain, 0.0, 1.0);
        o.state.alive = false;
    }
    o.state.energy_j = std::clamp(s.energy_j - drain, 0.0, full);
    o.state.clock_s += period.seconds;
    o.detected = m.pir_on ? static_cast<std::int64_t>(std::floor(alive_share * static_cast<double>(period.events))) : 0;
    return o;
}

}  // namespace

std::vector<std::int8_t> oracle_plan(const NodeParams& p, const Trace& trace, double decision_s, int grid_points,
                                     bool exact, std::int64_t max_nodes) {
    p.validate();
    trace.validate();
    const std::size_t per = steps_per_decision(trace, decision_s);
    const std::size_t decisions = (trace.steps() + per - 1) / per;
    const VoltageGrid grid(p, grid_points);
    const std::size_t g = grid.size();
    std::vector<Period> periods(decisions);
    for (std::size_t k = 0; k < trace.steps(); ++k) {
        Period& period = periods[k / per];
        period.harvest_j += p.harvest_w(trace.lux[k]) * trace.step_s;
        period.seconds += trace.step_s;
        period.events += trace.events[k];
    }
    // values[k] holds V(k, off, grid) then V(k, on, grid); values[decisions] is all zero.
    std::vector<std::vector<double>> values(decisions + 1, std::vector<double>(2 * g, 0.0));
    for (std::size_t k = decisions; k-- > 0;) {
        const std::size_t first = k * per, last = std::min(first + per, trace.steps());
        for (int alive = 0; alive < 2; ++alive) {
            for (std::size_t i = 0; i < g; ++i) {
                const NodeState start =
                    grid_state(p, grid.energy(i), alive != 0, static_cast<double>(first) * trace.step_s);
                double best = 0.0;
                for (int mode = 0; mode < static_cast<int>(kModeCount); ++mode) {
                    const Outcome o = exact ? run_period(p, start, trace, first, last, mode)
                                            : lumped_period(p, start, periods[k], mode);
                    best = std::max(best,
                                    static_cast<double>(o.detected) + value_after(grid, values[k + 1], o.state, exact));
                }
                values[k][static_cast<std::size_t>(alive) * g + i] = best;
            }
        }
    }
    if (exact) return PlanSearch(p, trace, per, grid, values, max_nodes).run(NodeState::initial(p));
    std::vector<std::int8_t> plan;
    plan.reserve(decisions);
    NodeState s = NodeState::initial(p);
    for (std::size_t k = 0; k < decisions; ++k) {
        const std::size_t first = k * per, last = std::min(first + per, trace.steps());
        int best_mode = 0;
        double best = -1.0, best_energy = -1.0;
        NodeState best_state = s;
        for (int mode = 0; mode < static_cast<int>(kModeCount); ++mode) {
            const Outcome o = run_period(p, s, trace, first, last, mode);
            const double v = static_cast<double>(o.detected) + value_after(grid, values[k + 1], o.state);
            // Ties go to the mode that keeps more energy: the grid cannot see small differences.
            if (v > best + 1e-9 || (v > best - 1e-9 && o.state.energy_j > best_energy)) {
                best = v;
                best_mode = mode;
                best_energy = o.state.energy_j;
                best_state = o.state;
            }
        }
        plan.push_back(static_cast<std::int8_t>(best_mode));
        s = best_state;
    }
    return plan;
}

namespace {

std::int64_t brute(const NodeParams& p, const NodeState& s, const Trace& trace, std::size_t per, std::size_t first) {
    if (first >= trace.steps()) return 0;
    const std::size_t last = std::min(first + per, trace.steps());
    std::int64_t best = 0;
    for (int mode = 0; mode < static_cast<int>(kModeCount); ++mode) {
        const Outcome o = run_period(p, s, trace, first, last, mode);
        best = std::max(best, o.detected + brute(p, o.state, trace, per, last));
    }
    return best;
}

}  // namespace

std::int64_t brute_force_best(const NodeParams& p, const Trace& trace, double decision_s) {
    p.validate();
    trace.validate();
    const std::size_t per = steps_per_decision(trace, decision_s);
    require((trace.steps() + per - 1) / per <= 8, "brute force is limited to 8 decisions");
    return brute(p, NodeState::initial(p), trace, per, 0);
}

// ---------------------------------------------------------------------------- Q-learning

namespace {

// SplitMix64: a small, portable, seedable generator (same numbers on every platform).
class Random {
public:
    explicit Random(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next() noexcept {
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
    double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

private:
    std::uint64_t state_;
};

int argmax(const double* q) {
    return static_cast<int>(std::max_element(q, q + kModeCount) - q);
}

}  // namespace

TablePolicy train_q_learning(const NodeParams& p, const std::vector<Trace>& traces, double decision_s,
                             const TableShape& shape, const QLearningConfig& config) {
    p.validate();
    shape.validate();
    require(!traces.empty(), "training needs at least one trace");
    require(config.episodes_per_trace >= 1, "episodes_per_trace must be >= 1");
    require(config.alpha > 0 && config.alpha <= 1 && config.gamma >= 0 && config.gamma < 1 &&
                config.epsilon >= 0 && config.epsilon <= 1,
            "alpha in (0, 1], gamma in [0, 1), epsilon in [0, 1]");
    std::vector<double> q(shape.states() * kModeCount, 0.0);
    std::vector<std::uint32_t> visits(q.size(), 0);
    Random rng(config.seed);
    const int total = config.episodes_per_trace * static_cast<int>(traces.size());
    for (int episode = 0; episode < total; ++episode) {
        const Trace& trace = traces[static_cast<std::size_t>(episode) % traces.size()];
        trace.validate();
        const std::size_t per = steps_per_decision(trace, decision_s);
        // Exploration fades to a tenth of epsilon by the last episode.
        const double eps = config.epsilon * (1.0 - 0.9 * episode / std::max(1, total - 1));
        NodeState s = NodeState::initial(p);
        std::size_t state = shape.index(observe(s, trace, 0, 0));
        for (std::size_t first = 0; first < trace.steps(); first += per) {
            double* qs = q.data() + state * kModeCount;
            const int mode = rng.uniform() < eps ? static_cast<int>(rng.next() % kModeCount) : argmax(qs);
            Ledger ledger;
            run_steps(p, s, trace, first, std::min(first + per, trace.steps()), mode, ledger);
            const double reward = static_cast<double>(ledger.events_detected) -
                                  config.energy_cost_per_j * ledger.consumed_j -
                                  config.brownout_penalty_per_h * ledger.brownout_s / 3600.0;
            const std::size_t next = shape.index(observe(s, trace, first + per, 0));
            const double* qn = q.data() + next * kModeCount;
            const double target = reward + config.gamma * *std::max_element(qn, qn + kModeCount);
            std::uint32_t& n = visits[state * kModeCount + static_cast<std::size_t>(mode)];
            n = n < UINT32_MAX ? n + 1 : n;
            qs[mode] += std::max(config.alpha, 1.0 / n) * (target - qs[mode]);
            state = next;
        }
    }
    std::vector<std::int8_t> modes(shape.states());
    for (std::size_t i = 0; i < shape.states(); ++i) {
        const double* qs = q.data() + i * kModeCount;
        // A state never visited keeps all-zero values; it gets the safe mode
        // (PIR on, report every 4 h) rather than argmax's arbitrary first.
        const std::uint32_t* n = visits.data() + i * kModeCount;
        const bool unseen = std::all_of(n, n + kModeCount, [](std::uint32_t v) { return v == 0; });
        modes[i] = static_cast<std::int8_t>(unseen ? 5 : table_mode(qs, config.pir_off_margin));
    }
    return TablePolicy(shape, std::move(modes));
}

int table_mode(const double* q, double pir_off_margin) {
    const int best = argmax(q);
    if (kModes[static_cast<std::size_t>(best)].pir_on) {
        return best;
    }
    int best_on = -1;
    for (std::size_t m = 0; m < kModeCount; ++m) {
        if (kModes[m].pir_on && (best_on < 0 || q[m] > q[best_on])) {
            best_on = static_cast<int>(m);
        }
    }
    return q[best] - q[best_on] > pir_off_margin ? best : best_on;
}

}  // namespace edgewise::energy
