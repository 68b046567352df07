// The pods API's pure parts: URLs, pod status and error replies.
#include <catch2/catch.hpp>

#include "io/kubernetes_pods_api.hpp"

using namespace iota::io;
using nlohmann::json;

TEST_CASE("the API server URL is split into host, port, Host header and prefix", "[kubernetes_pods_api]") {
  struct expect {
    const char* url;
    bool tls;
    const char* host;
    const char* port;
    const char* host_header;
    const char* base_path;
  };
  for (auto e : {expect{"https://kubernetes.default.svc", true, "kubernetes.default.svc", "443",
                        "kubernetes.default.svc", ""},
                 expect{"HTTP://[::1]:8001/k8s/clusters/c-1//", false, "::1", "8001", "[::1]:8001",
                        "/k8s/clusters/c-1"}}) {
    std::string error;
    auto u = kube::parse_url(e.url, error);
    REQUIRE(u);
    CHECK(u->tls == e.tls);
    CHECK(u->host == e.host);
    CHECK(u->port == e.port);
    CHECK(u->host_header == e.host_header);
    CHECK(u->base_path == e.base_path);
  }
}

TEST_CASE("bad API server URLs are refused with a reason", "[kubernetes_pods_api]") {
  for (const char* url : {"ftp://x", "https://", "https://h:0", "https://h:99999", "https://h:x",
                          "https://u@h", "https://h/p?q=1", "https://[::1"}) {
    std::string error;
    CHECK_FALSE(kube::parse_url(url, error));
    CHECK(error.find("kubernetes url") == 0);
  }
}

TEST_CASE("names are percent-encoded for paths", "[kubernetes_pods_api]") {
  CHECK(kube::url_encode("iota-things-3") == "iota-things-3");
  CHECK(kube::url_encode("a b/c") == "a%20b%2Fc");
}

TEST_CASE("a pod's phase and why it is in it", "[kubernetes_pods_api]") {
  CHECK(kube::phase_of("") == pod_phase::pending);
  CHECK(kube::phase_of("Running") == pod_phase::running);
  CHECK(kube::phase_of("Failed") == pod_phase::failed);
  CHECK(kube::phase_of("Weird") == pod_phase::unknown);
  auto pod = json::parse(R"({"metadata":{"deletionTimestamp":"2026-01-01T00:00:00Z"},
    "status":{"reason":"Evicted","message":"low memory",
              "containerStatuses":[{"state":{"terminated":{"exitCode":3,"reason":"Error"}}}]}})");
  CHECK(kube::detail_of(pod) == "terminating; Evicted: low memory; exit code 3 (Error)");
  auto waiting = json::parse(R"({"status":{"containerStatuses":[{"state":{"waiting":{"reason":"CrashLoopBackOff"}}}]}})");
  CHECK(kube::detail_of(waiting) == "CrashLoopBackOff");
  CHECK(kube::detail_of(json::object()).empty());
  CHECK(kube::string_at(pod, {"status", "containerStatuses"}).empty());
}

TEST_CASE("error replies name the status and the server's message", "[kubernetes_pods_api]") {
  CHECK(kube::http_detail(409, R"({"kind":"Status","message":"pods \"x\" already exists"})") ==
        "HTTP 409: pods \"x\" already exists");
  CHECK(kube::http_detail(500, "") == "HTTP 500");
  CHECK(kube::http_detail(502, "bad gateway") == "HTTP 502: bad gateway");
  CHECK(kube::is_not_found(404, R"({"kind":"Status","reason":"NotFound","code":404})"));
  CHECK_FALSE(kube::is_not_found(404, "404 page not found"));
  CHECK_FALSE(kube::is_not_found(409, R"({"kind":"Status","reason":"NotFound"})"));
}
