// io/kubernetes_driver.cpp against the fake pods API of tests/fakes (plain HTTP and TLS) on
// 127.0.0.1, plus the deploy/ manifests parsed with yaml-cpp and the config loader.
// Every wait has a generous deadline: CI is a loaded 2-core machine.
#include "io/kubernetes_driver.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "config/settings.hpp"
#include "fakes/fake_pods_api.hpp"
#include "fixtures/callbacks.hpp"
#include "fixtures/files.hpp"
#include "fixtures/process.hpp"
#include "model/pod_template.hpp"

using namespace std::chrono_literals;
namespace io = iota::io;
namespace fs = std::filesystem;
using iota::test::fake_pods_api;
using iota::test::await_callback;
using iota::test::fake_pods_api_options;
using iota::test::read_file;
using iota::test::write_file;
using iota::test::wait_until;
using nlohmann::json;
using steady = std::chrono::steady_clock;

namespace {

constexpr auto deadline = 20s;
const std::string ns = "iota";
const std::string token = "t0ken-123";

std::string template_yaml(const std::string& instance_name) {
  return read_file(std::string(IOTA_SOURCE_DIR) + "/templates/" + instance_name +
                   "/pod-template.yml");
}

const char* phase_name(io::pod_phase p) {
  switch (p) {
    case io::pod_phase::pending: return "Pending";
    case io::pod_phase::running: return "Running";
    case io::pod_phase::succeeded: return "Succeeded";
    case io::pod_phase::failed: return "Failed";
    case io::pod_phase::unknown: return "Unknown";
    case io::pod_phase::missing: return "Missing";
  }
  return "?";
}

io::instance_ref dac(int id) { return io::instance_ref{"Thing", "iota-dac", id}; }

io::kubernetes_settings settings_for(const fake_pods_api& api) {
  io::kubernetes_settings s;
  s.url = api.url();
  s.token = token;
  s.request_timeout = 10s;
  s.retry_delay = 300ms;
  return s;
}

std::unique_ptr<io::instance_driver> make_driver(io::kubernetes_settings s) {
  auto d = io::make_kubernetes_driver(std::move(s));
  d->add_template("Thing", "iota-dac", template_yaml("iota-dac"));
  d->add_template("Rule", "iota-rules-engine", template_yaml("iota-rules-engine"));
  return d;
}

// Blocking wrappers: the callbacks run on the driver's thread.
io::driver_result create(io::instance_driver& d, const io::instance_ref& ref) {
  return await_callback<io::driver_result>(deadline, [&](auto done) { d.create(ref, done); });
}

io::driver_result remove(io::instance_driver& d, const io::instance_ref& ref) {
  return await_callback<io::driver_result>(deadline, [&](auto done) { d.remove(ref, done); });
}

io::pod_status get(io::instance_driver& d, const io::instance_ref& ref) {
  return await_callback<io::pod_status>(deadline, [&](auto done) { d.get(ref, done); });
}

// What the watch reported, in order.
class status_log {
 public:
  io::instance_driver::status_fn sink() {
    return [this](io::pod_status s) {
      std::lock_guard<std::mutex> lock(mutex_);
      all_.push_back(std::move(s));
    };
  }
  std::vector<io::pod_status> of(const std::string& instance_name, int id) const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<io::pod_status> out;
    for (const auto& s : all_) {
      if (s.instance.instance_name == instance_name && s.instance.id == id) out.push_back(s);
    }
    return out;
  }
  std::vector<io::pod_status> all() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return all_;
  }
  std::size_t count(int id, io::pod_phase phase) const {
    auto v = of("iota-dac", id);
    return static_cast<std::size_t>(std::count_if(
        v.begin(), v.end(), [&](const io::pod_status& s) { return s.phase == phase; }));
  }
  bool saw(int id, io::pod_phase phase) const { return count(id, phase) > 0; }
  std::string dump() const {
    std::string out;
    for (const auto& s : all()) {
      out += s.instance.pod_name() + "=" + phase_name(s.phase) + "(" + s.detail + ") ";
    }
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<io::pod_status> all_;
};

// The driver on `api` with the repo's templates, reporting to `log` (which must outlive it),
// once its watch is open.
std::unique_ptr<io::instance_driver> watching_driver(fake_pods_api& api, status_log& log) {
  auto driver = make_driver(settings_for(api));
  driver->watch(log.sink());
  REQUIRE(wait_until([&] { return api.open_watches() == 1; }, deadline));
  return driver;
}

std::vector<iota::test::recorded_request> watch_requests(const fake_pods_api& api) {
  std::vector<iota::test::recorded_request> out;
  for (auto& r : api.requests()) {
    auto it = r.query.find("watch");
    if (r.method == "GET" && it != r.query.end() && (it->second == "1" || it->second == "true")) {
      out.push_back(r);
    }
  }
  return out;
}

std::size_t list_requests(const fake_pods_api& api) {
  std::size_t n = 0;
  for (auto& r : api.requests()) {
    if (r.method == "GET" && r.path == "/api/v1/namespaces/iota/pods" && !r.query.count("watch")) {
      ++n;
    }
  }
  return n;
}

// Listens on 127.0.0.1 and never reads nor answers: requests can only time out.
class silent_server {
 public:
  silent_server() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = 0;
    ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd_, 16) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~silent_server() { ::close(fd_); }
  silent_server(const silent_server&) = delete;
  silent_server& operator=(const silent_server&) = delete;
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace

TEST_CASE("create POSTs the rendered pod template with the bearer token", "[kubernetes]") {
  fake_pods_api api;
  api.require_token(token);
  auto driver = make_driver(settings_for(api));

  auto result = create(*driver, dac(3));
  INFO(result.detail);
  REQUIRE(result.status == io::driver_result::code::ok);

  auto pod = api.pod(ns, "iota-dac-3");
  REQUIRE(pod);
  CHECK((*pod)["metadata"]["name"] == "iota-dac-3");
  CHECK((*pod)["metadata"]["labels"]["instanceId"] == "3");
  CHECK((*pod)["metadata"]["labels"]["app"] == "iota-dac");
  CHECK((*pod)["spec"]["containers"][0]["env"][0]["value"] == "3");
  CHECK((*pod)["spec"]["containers"][0]["image"] == "iota/iota-dac:latest");

  auto requests = api.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].method == "POST");
  CHECK(requests[0].path == "/api/v1/namespaces/iota/pods");
  CHECK(requests[0].authorization == "Bearer " + token);
  CHECK(requests[0].content_type == "application/json");
  CHECK(api.count("POST") == 1);

  // A second create of a live pod: 409, which the caller retries later.
  auto again = create(*driver, dac(3));
  CHECK(again.status == io::driver_result::code::conflict);
  CHECK_THAT(again.detail, Catch::Contains("409") && Catch::Contains("already exists"));

  auto rule = create(*driver, io::instance_ref{"Rule", "iota-rules-engine", 0});
  CHECK(rule.ok());
  REQUIRE(api.pod(ns, "iota-rules-engine-0"));
  CHECK((*api.pod(ns, "iota-rules-engine-0"))["metadata"]["labels"]["instanceId"] == "0");

  auto unknown = create(*driver, io::instance_ref{"Other", "no-such-template", 1});
  CHECK(unknown.status == io::driver_result::code::error);
  CHECK_THAT(unknown.detail, Catch::Contains("no pod template"));
  CHECK(api.count("POST") == 3);
}

TEST_CASE("without the right token the API answers 401 and the driver reports an error",
          "[kubernetes]") {
  fake_pods_api api;
  api.require_token(token);

  for (std::string sent : {std::string(), std::string("wrong")}) {
    auto s = settings_for(api);
    s.token = sent;
    auto driver = make_driver(s);
    auto result = create(*driver, dac(1));
    CHECK(result.status == io::driver_result::code::error);
    CHECK_THAT(result.detail, Catch::Contains("401"));
    auto status = get(*driver, dac(1));
    CHECK(status.phase == io::pod_phase::unknown);
    CHECK_THAT(status.detail, Catch::StartsWith("error: ") && Catch::Contains("401"));
  }
  auto requests = api.requests();
  REQUIRE(requests.size() == 4);
  CHECK(requests[0].authorization.empty());
  CHECK(requests[2].authorization == "Bearer wrong");
  CHECK(api.pod_names(ns).empty());
}

TEST_CASE("delete sends gracePeriodSeconds 0, deleting a missing pod is not_found",
          "[kubernetes]") {
  fake_pods_api_options options;
  options.termination = 200ms;
  fake_pods_api api(options);
  auto driver = make_driver(settings_for(api));

  REQUIRE(create(*driver, dac(2)).ok());
  auto result = remove(*driver, dac(2));
  INFO(result.detail);
  REQUIRE(result.ok());

  auto requests = api.requests();
  REQUIRE(requests.size() == 2);
  const auto& del = requests[1];
  CHECK(del.method == "DELETE");
  CHECK(del.path == "/api/v1/namespaces/iota/pods/iota-dac-2");
  CHECK(del.query.at("gracePeriodSeconds") == "0");
  CHECK(del.authorization == "Bearer " + token);
  auto body = json::parse(del.body);
  CHECK(body["kind"] == "DeleteOptions");
  CHECK(body["apiVersion"] == "v1");
  CHECK(body["gracePeriodSeconds"] == 0);

  REQUIRE(wait_until([&] { return !api.pod(ns, "iota-dac-2"); }, deadline));
  auto missing = remove(*driver, dac(2));
  CHECK(missing.status == io::driver_result::code::not_found);
  CHECK(remove(*driver, dac(99)).status == io::driver_result::code::not_found);

  api.fail_next("DELETE", 500);
  REQUIRE(create(*driver, dac(5)).ok());
  auto failed = remove(*driver, dac(5));
  CHECK(failed.status == io::driver_result::code::error);
  CHECK_THAT(failed.detail, Catch::Contains("500"));
  CHECK(api.pod(ns, "iota-dac-5"));
}

TEST_CASE("recreating a pod that is still terminating is a conflict until it is gone",
          "[kubernetes]") {
  fake_pods_api_options options;
  options.termination = 1500ms;
  fake_pods_api api(options);
  auto driver = make_driver(settings_for(api));

  REQUIRE(create(*driver, dac(4)).ok());
  REQUIRE(remove(*driver, dac(4)).ok());
  REQUIRE(api.terminating(ns, "iota-dac-4"));

  auto conflict = create(*driver, dac(4));
  CHECK(conflict.status == io::driver_result::code::conflict);
  CHECK_THAT(conflict.detail, Catch::Contains("being deleted"));

  // What the instance supervisor does: retry later, never give up.
  io::driver_result last;
  std::size_t conflicts = 1;
  bool created = wait_until(
      [&] {
        last = create(*driver, dac(4));
        if (last.status == io::driver_result::code::conflict) ++conflicts;
        return last.ok();
      },
      deadline);
  INFO(last.detail);
  REQUIRE(created);
  CHECK(conflicts >= 1);
  auto pod = api.pod(ns, "iota-dac-4");
  REQUIRE(pod);
  CHECK_FALSE(api.terminating(ns, "iota-dac-4"));
  CHECK_FALSE((*pod)["metadata"].contains("deletionTimestamp"));
}

TEST_CASE("get maps the pod phase, a missing pod is missing", "[kubernetes]") {
  fake_pods_api api;
  auto driver = make_driver(settings_for(api));

  auto before = get(*driver, dac(6));
  CHECK(before.phase == io::pod_phase::missing);
  CHECK(before.instance.pod_name() == "iota-dac-6");

  REQUIRE(create(*driver, dac(6)).ok());
  CHECK(get(*driver, dac(6)).phase == io::pod_phase::pending);

  const std::vector<std::pair<std::string, io::pod_phase>> phases = {
      {"Running", io::pod_phase::running},
      {"Succeeded", io::pod_phase::succeeded},
      {"Failed", io::pod_phase::failed},
      {"Unknown", io::pod_phase::unknown},
      {"Pending", io::pod_phase::pending},
  };
  for (const auto& [name, phase] : phases) {
    REQUIRE(api.set_phase(ns, "iota-dac-6", name));
    auto status = get(*driver, dac(6));
    INFO(name);
    CHECK(status.phase == phase);
    CHECK(status.instance.resource == "Thing");
    CHECK(status.instance.id == 6);
  }
  REQUIRE(api.set_phase(ns, "iota-dac-6", "Failed", "Evicted"));
  auto evicted = get(*driver, dac(6));
  CHECK(evicted.phase == io::pod_phase::failed);
  CHECK_THAT(evicted.detail, Catch::Contains("Evicted"));

  api.fail_next("GET", 503);
  auto failed = get(*driver, dac(6));
  CHECK(failed.phase == io::pod_phase::unknown);
  CHECK_THAT(failed.detail, Catch::StartsWith("error: HTTP 503"));

  auto requests = api.requests();
  CHECK(requests.back().path == "/api/v1/namespaces/iota/pods/iota-dac-6");
  CHECK(requests.back().authorization == "Bearer " + token);
}

TEST_CASE("phase changes set by the API arrive through the watch", "[kubernetes]") {
  fake_pods_api_options options;
  options.termination = 300ms;
  fake_pods_api api(options);
  // A pod that exists before the watch starts is reported by the initial LIST.
  api.put_pod(ns, json{{"apiVersion", "v1"},
                       {"kind", "Pod"},
                       {"metadata", {{"name", "iota-dac-9"}, {"labels", {{"instanceId", "9"}}}}},
                       {"status", {{"phase", "Running"}}}});
  status_log log;
  auto driver = watching_driver(api, log);

  REQUIRE(wait_until([&] { return log.saw(9, io::pod_phase::running); }, deadline));
  CHECK(list_requests(api) == 1);
  auto watches = watch_requests(api);
  REQUIRE(watches.size() == 1);
  CHECK(watches[0].query.at("labelSelector") == "instanceId");
  CHECK(watches[0].authorization == "Bearer " + token);

  REQUIRE(create(*driver, dac(3)).ok());
  REQUIRE(wait_until([&] { return log.saw(3, io::pod_phase::pending); }, deadline));
  REQUIRE(api.set_phase(ns, "iota-dac-3", "Running"));
  REQUIRE(wait_until([&] { return log.saw(3, io::pod_phase::running); }, deadline));
  REQUIRE(api.set_phase(ns, "iota-dac-3", "Failed", "Error"));
  REQUIRE(wait_until([&] { return log.saw(3, io::pod_phase::failed); }, deadline));

  // Pods that are not instances of a known template are not reported.
  api.put_pod(ns, json{{"metadata", {{"name", "other-1"}, {"labels", {{"instanceId", "1"}}}}},
                       {"status", {{"phase", "Running"}}}});
  api.put_pod(ns, json{{"metadata", {{"name", "iota-dac-7"}, {"labels", {{"instanceId", "8"}}}}},
                       {"status", {{"phase", "Running"}}}});
  api.put_pod(ns, json{{"metadata",
                        {{"name", "iota-rules-engine-2"}, {"labels", {{"instanceId", "2"}}}}},
                       {"status", {{"phase", "Running"}}}});
  REQUIRE(wait_until([&] { return !log.of("iota-rules-engine", 2).empty(); }, deadline));
  CHECK(log.of("iota-rules-engine", 2).front().instance.resource == "Rule");
  CHECK(log.of("iota-dac", 7).empty());
  CHECK(log.of("iota-dac", 8).empty());
  for (const auto& s : log.all()) CHECK(s.instance.pod_name() != "other-1");

  REQUIRE(remove(*driver, dac(3)).ok());
  REQUIRE(wait_until([&] { return log.saw(3, io::pod_phase::missing); }, deadline));
  auto events = log.of("iota-dac", 3);
  INFO(log.dump());
  CHECK(events.back().phase == io::pod_phase::missing);
  CHECK(events.front().instance.resource == "Thing");
  // The deletion is first seen as a terminating pod, then as gone.
  CHECK(std::any_of(events.begin(), events.end(), [](const io::pod_status& s) {
    return s.detail.find("terminating") != std::string::npos;
  }));

  REQUIRE(api.remove_pod(ns, "iota-dac-9"));
  REQUIRE(wait_until([&] { return log.saw(9, io::pod_phase::missing); }, deadline));
  CHECK(list_requests(api) == 1);  // one LIST, one watch the whole time
  CHECK(watch_requests(api).size() == 1);
}

TEST_CASE("a dropped watch resumes from the last resourceVersion and loses no event",
          "[kubernetes]") {
  fake_pods_api api;
  status_log log;
  auto driver = watching_driver(api, log);

  REQUIRE(create(*driver, dac(3)).ok());
  REQUIRE(api.set_phase(ns, "iota-dac-3", "Running"));
  REQUIRE(wait_until([&] { return log.saw(3, io::pod_phase::running); }, deadline));
  auto last_seen = api.resource_version();

  for (int round = 0; round < 3; ++round) {
    INFO("round " << round);
    auto seen_before = api.resource_version();
    api.drop_watches();
    // Changes while nobody watches.
    if (round == 0) {
      REQUIRE(api.set_phase(ns, "iota-dac-3", "Failed"));
      REQUIRE(create(*driver, dac(4)).ok());
      REQUIRE(wait_until([&] { return log.saw(3, io::pod_phase::failed); }, deadline));
      REQUIRE(wait_until([&] { return log.saw(4, io::pod_phase::pending); }, deadline));
    } else if (round == 1) {
      REQUIRE(api.set_phase(ns, "iota-dac-4", "Running"));
      REQUIRE(api.remove_pod(ns, "iota-dac-3"));
      REQUIRE(wait_until([&] { return log.saw(4, io::pod_phase::running); }, deadline));
      REQUIRE(wait_until([&] { return log.saw(3, io::pod_phase::missing); }, deadline));
    } else {
      REQUIRE(api.set_phase(ns, "iota-dac-4", "Succeeded"));
      REQUIRE(wait_until([&] { return log.saw(4, io::pod_phase::succeeded); }, deadline));
    }
    REQUIRE(wait_until([&] { return api.open_watches() == 1; }, deadline));
    auto watches = watch_requests(api);
    REQUIRE(watches.size() == static_cast<std::size_t>(round) + 2);
    // Resumed exactly where the stream broke: the version of the last event received.
    CHECK(watches.back().query.at("resourceVersion") == std::to_string(seen_before));
    CHECK(seen_before >= last_seen);
  }
  INFO(log.dump());
  for (auto& r : api.requests()) UNSCOPED_INFO(r.method << " " << r.target << " -> " << r.status);
  CHECK(list_requests(api) == 1);  // resumed, never relisted
  // Every change once, in order.
  CHECK(log.count(3, io::pod_phase::running) == 1);
  CHECK(log.count(3, io::pod_phase::failed) == 1);
  CHECK(log.count(3, io::pod_phase::missing) == 1);
  CHECK(log.count(4, io::pod_phase::running) == 1);
  CHECK(log.count(4, io::pod_phase::succeeded) == 1);
  auto three = log.of("iota-dac", 3);
  CHECK(three.back().phase == io::pod_phase::missing);
}

TEST_CASE("410 Gone - the driver lists again, reports what changed, and watches on",
          "[kubernetes]") {
  fake_pods_api api;
  status_log log;
  auto driver = watching_driver(api, log);

  REQUIRE(create(*driver, dac(1)).ok());
  REQUIRE(create(*driver, dac(2)).ok());
  REQUIRE(wait_until([&] { return log.saw(2, io::pod_phase::pending); }, deadline));

  api.drop_watches();
  REQUIRE(api.set_phase(ns, "iota-dac-1", "Running"));
  REQUIRE(api.remove_pod(ns, "iota-dac-2"));
  api.compact();  // the driver's resourceVersion is now too old

  REQUIRE(wait_until([&] { return log.saw(1, io::pod_phase::running); }, deadline));
  REQUIRE(wait_until([&] { return log.saw(2, io::pod_phase::missing); }, deadline));
  REQUIRE(wait_until([&] { return api.open_watches() == 1; }, deadline));
  CHECK(list_requests(api) == 2);

  auto watches = watch_requests(api);
  REQUIRE(watches.size() == 3);  // initial, the one answered 410, the one after the LIST
  CHECK(watches[1].query.count("resourceVersion") == 1);
  CHECK(std::stoull(watches[2].query.at("resourceVersion")) >=
        std::stoull(watches[1].query.at("resourceVersion")));

  // And the new watch works.
  REQUIRE(api.set_phase(ns, "iota-dac-1", "Failed"));
  REQUIRE(wait_until([&] { return log.saw(1, io::pod_phase::failed); }, deadline));
}

TEST_CASE("the watch is retried while the API fails, and a late template triggers a LIST",
          "[kubernetes]") {
  fake_pods_api api;
  api.put_pod(ns, json{{"metadata", {{"name", "iota-dac-5"}, {"labels", {{"instanceId", "5"}}}}},
                       {"status", {{"phase", "Running"}}}});
  api.fail_next("GET", 500);  // the first LIST fails
  auto s = settings_for(api);
  status_log log;  // outlives the driver, whose thread calls it until stopped
  auto driver = io::make_kubernetes_driver(s);
  driver->watch(log.sink());
  REQUIRE(wait_until([&] { return api.open_watches() == 1; }, deadline));
  CHECK(list_requests(api) == 2);
  CHECK(log.all().empty());  // no template yet: nothing is an instance

  driver->add_template("Thing", "iota-dac", template_yaml("iota-dac"));
  REQUIRE(wait_until([&] { return log.saw(5, io::pod_phase::running); }, deadline));
  REQUIRE(wait_until([&] { return api.open_watches() == 1; }, deadline));
  CHECK(list_requests(api) == 3);
}

TEST_CASE("TLS with insecure_skip_tls_verify, or verification against ca_file", "[kubernetes]") {
  fake_pods_api_options options;
  options.tls = true;
  fake_pods_api api(options);
  api.require_token(token);
  REQUIRE_THAT(api.url(), Catch::StartsWith("https://"));
  iota::test::temp_dir dir("iota-k8s-tls");
  auto ca = dir.path() + "/ca.crt";
  write_file(ca, api.cert_pem());

  SECTION("insecure") {
    auto s = settings_for(api);
    s.insecure_skip_tls_verify = true;
    status_log log;
    auto driver = make_driver(s);
    driver->watch(log.sink());
    auto result = create(*driver, dac(3));
    INFO(result.detail);
    REQUIRE(result.ok());
    CHECK(get(*driver, dac(3)).phase == io::pod_phase::pending);
    REQUIRE(api.set_phase(ns, "iota-dac-3", "Running"));
    REQUIRE(wait_until([&] { return log.saw(3, io::pod_phase::running); }, deadline));
    REQUIRE(remove(*driver, dac(3)).ok());
    CHECK(api.requests().front().authorization == "Bearer " + token);
  }
  SECTION("verified with the CA file, by IP address and by name") {
    for (std::string host : {std::string("127.0.0.1"), std::string("localhost")}) {
      auto s = settings_for(api);
      s.url = "https://" + host + ":" + std::to_string(api.port());
      s.insecure_skip_tls_verify = false;
      s.ca_file = ca;
      auto driver = make_driver(s);
      auto status = get(*driver, dac(3));
      INFO(host << ": " << status.detail);
      CHECK(status.phase == io::pod_phase::missing);
    }
  }
  SECTION("verification without the CA fails the handshake") {
    auto s = settings_for(api);
    s.insecure_skip_tls_verify = false;
    auto driver = make_driver(s);
    auto result = create(*driver, dac(3));
    CHECK(result.status == io::driver_result::code::error);
    CHECK_THAT(result.detail, Catch::Contains("handshake"));
    CHECK_FALSE(api.pod(ns, "iota-dac-3"));
  }
  SECTION("a CA file that cannot be read fails every request") {
    auto s = settings_for(api);
    s.insecure_skip_tls_verify = false;
    s.ca_file = dir.path() + "/none.crt";
    auto driver = make_driver(s);
    auto result = create(*driver, dac(3));
    CHECK(result.status == io::driver_result::code::error);
    CHECK_THAT(result.detail, Catch::Contains("none.crt"));
  }
}

TEST_CASE("in_cluster reads the service account and the service address", "[kubernetes]") {
  iota::test::temp_dir dir("iota-k8s-sa");
  std::map<std::string, std::string> env{{"KUBERNETES_SERVICE_HOST", "10.96.0.1"},
                                         {"KUBERNETES_SERVICE_PORT", "6443"}};
  io::in_cluster_source source;
  source.service_account_dir = dir.path();
  source.env = [&](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  io::kubernetes_settings base;
  base.url = "https://kubernetes.default.svc";
  base.token = "from-config";
  base.run_in_pod = true;

  SECTION("everything present") {
    write_file(dir.path() + "/token", "eyJhbGciOi.sa-token\n");
    write_file(dir.path() + "/ca.crt", "-----BEGIN CERTIFICATE-----\n");
    write_file(dir.path() + "/namespace", "iota-prod\n");
    std::string error = "unset";
    auto s = io::in_cluster(base, source, &error);
    CHECK(error.empty());
    CHECK(s.url == "https://10.96.0.1:6443");
    CHECK(s.token == "eyJhbGciOi.sa-token");
    CHECK(s.token_file == dir.path() + "/token");
    CHECK(s.ca_file == dir.path() + "/ca.crt");
    CHECK(s.namespace_name == "iota-prod");
    CHECK(s.run_in_pod);
  }
  SECTION("IPv6 service host, default port, no namespace file") {
    write_file(dir.path() + "/token", "abc");
    env = {{"KUBERNETES_SERVICE_HOST", "fd00::1"}};
    std::string error;
    auto s = io::in_cluster(base, source, &error);
    CHECK(error.empty());
    CHECK(s.url == "https://[fd00::1]:443");
    CHECK(s.namespace_name == "iota");
    CHECK(s.ca_file.empty());
  }
  SECTION("nothing there: base kept, the problems named") {
    env.clear();
    std::string error;
    auto s = io::in_cluster(base, source, &error);
    CHECK(s.url == base.url);
    CHECK(s.token == "from-config");
    CHECK_THAT(error, Catch::Contains("KUBERNETES_SERVICE_HOST") && Catch::Contains("token"));
  }
  SECTION("run_in_pod off: unchanged") {
    write_file(dir.path() + "/token", "abc");
    base.run_in_pod = false;
    std::string error;
    auto s = io::in_cluster(base, source, &error);
    CHECK(s.url == base.url);
    CHECK(s.token == "from-config");
    CHECK(s.token_file.empty());
  }
}

TEST_CASE("a rotated service-account token is picked up after a 401", "[kubernetes]") {
  fake_pods_api api;
  iota::test::temp_dir dir("iota-k8s-token");
  write_file(dir.path() + "/token", "first\n");
  api.require_token("first");

  auto s = settings_for(api);
  s.token.clear();
  s.token_file = dir.path() + "/token";
  auto driver = make_driver(s);
  REQUIRE(create(*driver, dac(1)).ok());

  write_file(dir.path() + "/token", "second\n");
  api.require_token("second");
  // The cached token fails once; the 401 makes the driver read the file again.
  auto first_try = create(*driver, dac(2));
  bool ok = first_try.ok() || wait_until([&] { return create(*driver, dac(2)).ok(); }, deadline);
  REQUIRE(ok);
  CHECK(api.requests().back().authorization == "Bearer second");
}

TEST_CASE("failures are reported, never hung - refused, timed out, bad url", "[kubernetes]") {
  SECTION("connection refused") {
    io::kubernetes_settings s;
    s.url = "http://127.0.0.1:" + std::to_string(iota::test::free_port());
    auto driver = make_driver(s);
    auto result = create(*driver, dac(1));
    CHECK(result.status == io::driver_result::code::error);
    CHECK_THAT(result.detail, Catch::Contains("connect"));
    auto status = get(*driver, dac(1));
    CHECK(status.phase == io::pod_phase::unknown);
    CHECK_THAT(status.detail, Catch::StartsWith("error: connect"));
  }
  SECTION("a server that never answers") {
    silent_server server;
    io::kubernetes_settings s;
    s.url = "http://127.0.0.1:" + std::to_string(server.port());
    s.request_timeout = 500ms;
    auto driver = make_driver(s);
    auto start = steady::now();
    auto result = remove(*driver, dac(1));
    auto took = steady::now() - start;
    CHECK(result.status == io::driver_result::code::error);
    CHECK_THAT(result.detail, Catch::Contains("timed out"));
    CHECK(took >= 400ms);
    CHECK(took < 10s);
  }
  SECTION("a url that is not http(s)") {
    io::kubernetes_settings s;
    s.url = "ftp://example.org";
    auto driver = make_driver(s);
    auto result = create(*driver, dac(1));
    CHECK(result.status == io::driver_result::code::error);
    CHECK_THAT(result.detail, Catch::Contains("http://"));
  }
  SECTION("a path prefix in the url is kept") {
    fake_pods_api api;
    auto s = settings_for(api);
    s.url = api.url() + "/";
    auto driver = make_driver(s);
    CHECK(create(*driver, dac(1)).ok());
    s.url = api.url() + "/proxy";
    auto prefixed = make_driver(s);
    CHECK(get(*prefixed, dac(1)).phase == io::pod_phase::unknown);  // the fake has no /proxy
    CHECK(api.requests().back().path == "/proxy/api/v1/namespaces/iota/pods/iota-dac-1");
  }
}

TEST_CASE("a hundred creates at once all succeed", "[kubernetes]") {
  fake_pods_api api;
  constexpr int n = 100;
  std::mutex mutex;
  std::vector<io::driver_result> results;
  auto driver = make_driver(settings_for(api));
  for (int id = 0; id < n; ++id) {
    driver->create(dac(id), [&](io::driver_result r) {
      std::lock_guard<std::mutex> lock(mutex);
      results.push_back(std::move(r));
    });
  }
  REQUIRE(wait_until(
      [&] {
        std::lock_guard<std::mutex> lock(mutex);
        return results.size() == n;
      },
      60s));
  std::lock_guard<std::mutex> lock(mutex);
  for (const auto& r : results) CHECK(r.ok());
  CHECK(api.pod_names(ns).size() == n);
}

TEST_CASE("stop closes the watch and joins promptly, no callback runs afterwards",
          "[kubernetes]") {
  fake_pods_api api;
  silent_server server;
  status_log log;
  auto driver = watching_driver(api, log);

  // A request that will never be answered, in flight while stopping.
  auto stuck_settings = settings_for(api);
  stuck_settings.url = "http://127.0.0.1:" + std::to_string(server.port());
  auto stuck = make_driver(stuck_settings);
  std::atomic<int> stuck_calls{0};
  stuck->get(dac(1), [&](io::pod_status) { ++stuck_calls; });

  auto start = steady::now();
  driver->stop();
  auto first = steady::now() - start;
  stuck->stop();
  auto both = steady::now() - start;
  INFO("first " << std::chrono::duration_cast<std::chrono::milliseconds>(first).count() << "ms, both "
                << std::chrono::duration_cast<std::chrono::milliseconds>(both).count() << "ms");
  CHECK(both < 5s);
  REQUIRE(wait_until([&] { return api.open_watches() == 0; }, deadline));

  std::atomic<int> calls{0};
  driver->create(dac(1), [&](io::driver_result) { ++calls; });
  CHECK_FALSE(wait_until([&] { return calls > 0 || stuck_calls > 0; }, 300ms));
  CHECK(api.count("POST") == 0);
  driver->stop();  // idempotent
}

// ---- deploy/ ------------------------------------------------------------------------------

namespace {

std::map<std::string, YAML::Node> deploy_objects() {
  std::map<std::string, YAML::Node> by_kind;
  const fs::path dir = fs::path(IOTA_SOURCE_DIR) / "deploy";
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml" || entry.path().filename() == "kustomization.yaml") {
      continue;
    }
    INFO(entry.path());
    std::vector<YAML::Node> docs;
    REQUIRE_NOTHROW(docs = YAML::LoadAllFromFile(entry.path().string()));
    for (const auto& doc : docs) {
      if (!doc || doc.IsNull()) continue;
      REQUIRE(doc.IsMap());
      REQUIRE(doc["apiVersion"]);
      REQUIRE(doc["kind"]);
      REQUIRE(doc["metadata"]["name"]);
      auto kind = doc["kind"].as<std::string>();
      REQUIRE(by_kind.count(kind) == 0);
      by_kind[kind] = doc;
    }
  }
  return by_kind;
}

std::vector<std::string> strings(const YAML::Node& seq) {
  std::vector<std::string> out;
  for (const auto& n : seq) out.push_back(n.as<std::string>());
  return out;
}

}  // namespace

TEST_CASE("deploy manifests parse and fit together", "[kubernetes][deploy]") {
  auto objects = deploy_objects();
  for (const char* kind :
       {"Namespace", "ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Deployment", "NetworkPolicy"}) {
    INFO(kind);
    REQUIRE(objects.count(kind) == 1);
    if (std::string(kind) != "Namespace") {
      CHECK(objects[kind]["metadata"]["namespace"].as<std::string>() == "iota");
    }
  }
  auto sa = objects["ServiceAccount"]["metadata"]["name"].as<std::string>();

  // The Role: exactly the verbs the driver uses, on pods, and create on events (restarts).
  auto role = objects["Role"];
  CHECK(role["apiVersion"].as<std::string>() == "rbac.authorization.k8s.io/v1");
  REQUIRE(role["rules"].size() == 2);
  auto events_rule = role["rules"][1];
  CHECK(strings(events_rule["apiGroups"]) == std::vector<std::string>{""});
  CHECK(strings(events_rule["resources"]) == std::vector<std::string>{"events"});
  CHECK(strings(events_rule["verbs"]) == std::vector<std::string>{"create"});
  auto rule = role["rules"][0];
  CHECK(strings(rule["apiGroups"]) == std::vector<std::string>{""});
  CHECK(strings(rule["resources"]) == std::vector<std::string>{"pods"});
  auto verbs = strings(rule["verbs"]);
  CHECK(std::set<std::string>(verbs.begin(), verbs.end()) ==
        std::set<std::string>{"get", "list", "watch", "create", "delete"});
  CHECK(verbs.size() == 5);

  auto binding = objects["RoleBinding"];
  CHECK(binding["roleRef"]["kind"].as<std::string>() == "Role");
  CHECK(binding["roleRef"]["name"].as<std::string>() == role["metadata"]["name"].as<std::string>());
  REQUIRE(binding["subjects"].size() == 1);
  CHECK(binding["subjects"][0]["kind"].as<std::string>() == "ServiceAccount");
  CHECK(binding["subjects"][0]["name"].as<std::string>() == sa);
  CHECK(binding["subjects"][0]["namespace"].as<std::string>() == "iota");

  // The Deployment.
  auto deployment = objects["Deployment"];
  CHECK(deployment["apiVersion"].as<std::string>() == "apps/v1");
  auto selector = deployment["spec"]["selector"]["matchLabels"];
  auto pod = deployment["spec"]["template"];
  for (const auto& label : selector) {
    CHECK(pod["metadata"]["labels"][label.first.as<std::string>()].as<std::string>() ==
          label.second.as<std::string>());
  }
  auto spec = pod["spec"];
  CHECK(spec["serviceAccountName"].as<std::string>() == sa);
  REQUIRE(spec["containers"].size() == 1);
  auto container = spec["containers"][0];
  CHECK_THAT(container["image"].as<std::string>(), Catch::StartsWith("iota/iota-orchestrator"));
  CHECK(strings(container["args"]) ==
        std::vector<std::string>{"--config", "/etc/iota-orchestrator/config.yml"});
  std::map<std::string, YAML::Node> env;
  for (const auto& e : container["env"]) {
    env[e["name"].as<std::string>()] = static_cast<const YAML::Node&>(e);
  }
  CHECK(env.count("IOTA_MQTT_BROKERS") == 1);
  CHECK(env.count("IOTA_ZOOKEEPER") == 1);
  CHECK(env.count("IOTA_KAFKA_BROKERS") == 1);
  CHECK(container["readinessProbe"]["httpGet"]["path"].as<std::string>() == "/readyz");
  CHECK(container["readinessProbe"]["httpGet"]["port"].as<int>() == 8080);
  CHECK(container["livenessProbe"]["httpGet"]["path"].as<std::string>() == "/healthz");
  CHECK(container["livenessProbe"]["httpGet"]["port"].as<int>() == 8080);
  CHECK(container["ports"][0]["containerPort"].as<int>() == 8080);

  // The config volume is the ConfigMap, with the config and the templates where it says.
  auto configmap = objects["ConfigMap"];
  auto cm_name = configmap["metadata"]["name"].as<std::string>();
  std::string mount_path;
  for (const auto& m : container["volumeMounts"]) {
    for (const auto& v : spec["volumes"]) {
      if (v["name"].as<std::string>() == m["name"].as<std::string>() && v["configMap"] &&
          v["configMap"]["name"].as<std::string>() == cm_name) {
        mount_path = m["mountPath"].as<std::string>();
        for (const auto& item : v["configMap"]["items"]) {
          INFO(item["key"].as<std::string>());
          CHECK(configmap["data"][item["key"].as<std::string>()]);
        }
      }
    }
  }
  CHECK(mount_path == "/etc/iota-orchestrator");

  // The config itself: valid for the daemon's loader, Kubernetes driver, in-cluster.
  auto config_text = configmap["data"]["config.yml"].as<std::string>();
  auto config = YAML::Load(config_text);
  CHECK(config["driver"].as<std::string>() == "kubernetes");
  CHECK(config["http"]["listen"].as<std::string>() == "0.0.0.0:8080");
  CHECK(config["kubernetes"]["runInPod"].as<bool>());
  CHECK(config["templatesPath"].as<std::string>() == mount_path + "/templates");

  iota::test::temp_dir dir("iota-deploy");
  write_file(dir.path() + "/config.yml", config_text);
  for (const std::string name : {"iota-dac", "iota-rules-engine"}) {
    fs::create_directories(dir.path() + "/templates/" + name);
    auto key = name + ".pod-template.yml";
    REQUIRE(configmap["data"][key]);
    auto embedded = configmap["data"][key].as<std::string>();
    write_file(dir.path() + "/templates/" + name + "/pod-template.yml", embedded);
    // Same pods as the repository's templates.
    auto mine = iota::model::pod_template::parse(embedded, key);
    auto repo = iota::model::pod_template::parse(template_yaml(name), name);
    REQUIRE(std::holds_alternative<iota::model::pod_template>(mine));
    REQUIRE(std::holds_alternative<iota::model::pod_template>(repo));
    CHECK(std::get<iota::model::pod_template>(mine).render_json(name, 7) ==
          std::get<iota::model::pod_template>(repo).render_json(name, 7));
  }
  auto loaded = iota::config::load_settings(
      {"--config", dir.path() + "/config.yml", "--templates", dir.path() + "/templates"},
      [](const std::string&) -> std::optional<std::string> { return std::nullopt; });
  INFO(loaded.error);
  REQUIRE(loaded.value);
  CHECK(loaded.value->driver == "kubernetes");
  CHECK(loaded.value->kubernetes.run_in_pod);
  CHECK(loaded.value->http.listen == "0.0.0.0:8080");
  CHECK(loaded.value->resources.size() == 2);
  CHECK(loaded.value->warnings.empty());
  // Locked down (SPEC 15): writes need a token from the mounted Secret, the pod runs under
  // the "restricted" profile, and only the configured namespaces reach the API port.
  CHECK(loaded.value->http.tokens_file == "/etc/iota-orchestrator-tokens/tokens");
  CHECK_FALSE(loaded.value->http.allow_unauthenticated);
  bool tokens_mounted = false;
  for (const auto& m : container["volumeMounts"])
    for (const auto& v : spec["volumes"])
      if (v["name"].as<std::string>() == m["name"].as<std::string>() && v["secret"] &&
          v["secret"]["secretName"].as<std::string>() == "iota-orchestrator-api-tokens" &&
          m["mountPath"].as<std::string>() == "/etc/iota-orchestrator-tokens" && m["readOnly"].as<bool>() &&
          v["secret"]["items"][0]["path"].as<std::string>() == "tokens")
        tokens_mounted = true;
  CHECK(tokens_mounted);
  CHECK(spec["securityContext"]["runAsNonRoot"].as<bool>());
  CHECK(spec["securityContext"]["seccompProfile"]["type"].as<std::string>() == "RuntimeDefault");
  auto csc = container["securityContext"];
  CHECK_FALSE(csc["allowPrivilegeEscalation"].as<bool>());
  CHECK(csc["readOnlyRootFilesystem"].as<bool>());
  CHECK(csc["runAsNonRoot"].as<bool>());
  CHECK(strings(csc["capabilities"]["drop"]) == std::vector<std::string>{"ALL"});
  CHECK(csc["seccompProfile"]["type"].as<std::string>() == "RuntimeDefault");
  bool journal_on_empty_dir = false;  // the only writable place: the notify journal
  for (const auto& m : container["volumeMounts"])
    for (const auto& v : spec["volumes"])
      if (v["name"].as<std::string>() == m["name"].as<std::string>() && v["emptyDir"] &&
          config["mqtt"]["journalDir"].as<std::string>().rfind(m["mountPath"].as<std::string>(), 0) == 0)
        journal_on_empty_dir = true;
  CHECK(journal_on_empty_dir);
  auto policy = objects["NetworkPolicy"];
  REQUIRE(policy);
  CHECK(policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"].as<std::string>() ==
        pod["metadata"]["labels"]["app.kubernetes.io/name"].as<std::string>());
  CHECK(strings(policy["spec"]["policyTypes"]) == std::vector<std::string>{"Ingress"});
  REQUIRE(policy["spec"]["ingress"].size() == 1);
  auto ingress = policy["spec"]["ingress"][0];
  CHECK(ingress["ports"][0]["port"].as<int>() == 8080);
  CHECK(ingress["from"][0]["namespaceSelector"]["matchExpressions"][0]["key"].as<std::string>() ==
        "kubernetes.io/metadata.name");

  // The kustomization names every manifest.
  auto kustomization = YAML::LoadFile(std::string(IOTA_SOURCE_DIR) + "/deploy/kustomization.yaml");
  auto listed = strings(kustomization["resources"]);
  for (const auto& entry : fs::directory_iterator(fs::path(IOTA_SOURCE_DIR) / "deploy")) {
    auto file = entry.path().filename().string();
    if (entry.path().extension() == ".yaml" && file != "kustomization.yaml") {
      INFO(file);
      CHECK(std::find(listed.begin(), listed.end(), file) != listed.end());
    }
  }
}

TEST_CASE("a restart is posted as a core/v1 Event on the pod (kubectl get events shows it)", "[kubernetes]") {
  fake_pods_api api;
  api.require_token(token);
  auto driver = make_driver(settings_for(api));
  driver->record_event(dac(3), "Restarted", "iota-orchestrator restarts instance [3] (cause heartbeat): no heartbeat");
  REQUIRE(wait_until([&] { return api.events(ns).size() == 1; }, deadline));
  auto e = api.events(ns)[0];
  CHECK(e["kind"] == "Event");
  CHECK(e["apiVersion"] == "v1");
  CHECK(e["involvedObject"]["kind"] == "Pod");
  CHECK(e["involvedObject"]["name"] == "iota-dac-3");
  CHECK(e["involvedObject"]["namespace"] == ns);
  CHECK(e["reason"] == "Restarted");
  CHECK(e["type"] == "Warning");
  CHECK(e["source"]["component"] == "iota-orchestrator");
  CHECK_THAT(e["message"].get<std::string>(), Catch::Contains("cause heartbeat"));
  CHECK_THAT(e["metadata"]["name"].get<std::string>(), Catch::StartsWith("iota-dac-3."));
  auto requests = api.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].path == "/api/v1/namespaces/iota/events");
  CHECK(requests[0].authorization == "Bearer " + token);

  // A refused Event is logged, never retried, and changes nothing else.
  api.fail_next("POST", 403);
  driver->record_event(dac(4), "Restarted", "refused");
  REQUIRE(wait_until([&] { return api.count("POST") == 2; }, deadline));
  CHECK(api.events(ns).size() == 1);
}
