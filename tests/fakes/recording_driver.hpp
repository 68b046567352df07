#pragma once
// An instance driver that records every call and answers from a table the test controls,
// on the calling thread (for CAF's single-threaded test scheduler).
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "io/instance_driver.hpp"

namespace iota::test {

class recording_driver : public io::instance_driver {
 public:
  std::vector<std::string> calls;                 // "create iota-dac-3", "remove ...", "get ..."
  std::map<int, io::pod_phase> phases;            // what get() answers (missing when absent)
  std::deque<io::driver_result::code> create_answers;  // next create results (default ok)
  bool hold = false;
  std::deque<std::function<void()>> held;
  status_fn watcher;

  void add_template(const std::string&, const std::string&, const std::string&) override {}
  void create(const io::instance_ref& i, result_fn done) override {
    calls.push_back("create " + i.pod_name());
    auto code = io::driver_result::code::ok;
    if (!create_answers.empty()) {
      code = create_answers.front();
      create_answers.pop_front();
    }
    if (code == io::driver_result::code::ok)
      phases[i.id] = io::pod_phase::pending;
    run([done, code] { done(io::driver_result{code, code == io::driver_result::code::conflict ? "409" : ""}); });
  }
  void remove(const io::instance_ref& i, result_fn done) override {
    calls.push_back("remove " + i.pod_name());
    bool existed = phases.erase(i.id) > 0;
    run([done, existed] {
      done(io::driver_result{existed ? io::driver_result::code::ok : io::driver_result::code::not_found, ""});
    });
  }
  void get(const io::instance_ref& i, status_fn done) override {
    calls.push_back("get " + i.pod_name());
    auto it = phases.find(i.id);
    io::pod_status s{i, it == phases.end() ? io::pod_phase::missing : it->second, ""};
    run([done, s] { done(s); });
  }
  void watch(status_fn on_change) override { watcher = std::move(on_change); }
  void record_event(const io::instance_ref& i, const std::string& reason, const std::string& message) override {
    calls.push_back("event " + i.pod_name() + " " + reason + ": " + message);
  }
  void stop() override {}

  std::size_t count(const std::string& prefix) const {
    std::size_t n = 0;
    for (auto& c : calls)
      n += c.rfind(prefix, 0) == 0;
    return n;
  }
  bool release() {
    if (held.empty())
      return false;
    auto f = std::move(held.front());
    held.pop_front();
    f();
    return true;
  }

 private:
  void run(std::function<void()> f) {
    if (hold)
      held.push_back(std::move(f));
    else
      f();
  }
};

}  // namespace iota::test
