// Fakes the unit tests (and the fuzz targets) share: interrupt plumbing
// (src/platform/interrupts.h) that records what a device asked for.
// No gtest here, so the fuzz targets can include it too.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "platform/interrupts.h"

namespace khyve::test {

// ---- Interrupts ----

// One MSI route: its last update() and how often it was triggered. Device
// threads may trigger it while the test reads it.
struct FakeRoute : MsiRoute {
    std::atomic<int> triggers{0};
    std::atomic<bool> masked{true};
    uint64_t address = 0;
    uint32_t data = 0;
    int eventfd() const override { return -1; }
    void update(uint64_t a, uint32_t d, bool m) override {
        address = a;
        data = d;
        masked = m;
    }
    void trigger() override { ++triggers; }
};

// Line levels by GSI, direct MSIs counted, and every route it created (in
// order; the routes belong to whoever asked for them).
struct FakeIrq : InterruptController {
    std::vector<FakeRoute*> routes;
    std::mutex mu;
    std::map<unsigned, bool> lines;  // gsi -> level; lock mu while devices run
    int msis = 0;
    void set_irq_line(unsigned gsi, bool level) override {
        std::lock_guard lk(mu);
        lines[gsi] = level;
    }
    bool line(unsigned gsi) {
        std::lock_guard lk(mu);
        return lines[gsi];
    }
    void signal_msi(uint64_t, uint32_t) override { ++msis; }
    std::unique_ptr<MsiRoute> create_msi_route() override {
        auto r = std::make_unique<FakeRoute>();
        routes.push_back(r.get());
        return r;
    }
};

}  // namespace khyve::test
