#pragma once
// The instance driver that runs instances as pods through the Kubernetes pods API
// (shared/SPEC.md sections 5 and 6). Implemented on Boost.Beast + Asio + OpenSSL in
// kubernetes_driver.cpp; this header stays free of Boost.
//
// Calls (from io/instance_driver.hpp) and the requests they make, all under
// /api/v1/namespaces/<namespace>/pods, each with `Authorization: Bearer <token>`:
//   create -> POST  .../pods  (the rendered template as JSON)
//             2xx ok, 409 conflict (still terminating / exists: retry later), else error
//   remove -> DELETE .../pods/<name>?gracePeriodSeconds=0 with DeleteOptions
//             {"gracePeriodSeconds":0}; 2xx ok, 404 not_found, 409 conflict, else error
//   get    -> GET .../pods/<name>; status.phase mapped to pod_phase (no phase yet: pending),
//             404 missing. (404 means a Status with reason NotFound: a plain "404 page not
//             found" from a wrong url prefix is an error, for get and remove alike.) A failed request (network, timeout, 401, 5xx) is NOT a pod
//             state: it is reported as phase `unknown` with a detail starting "error: ".
//   watch  -> LIST .../pods?labelSelector=instanceId (every matching pod reported, and any
//             pod reported before but gone now reported `missing`), then
//             GET ...?watch=1&labelSelector=instanceId&resourceVersion=<list's version>;
//             each ADDED/MODIFIED event reports the pod's phase, DELETED reports `missing`.
//             A dropped watch is resumed from the last seen resourceVersion after
//             retry_delay; 410 Gone (HTTP or an ERROR event) starts again with a fresh LIST.
//             Only pods named "<instance_name>-<id>" of a template added with add_template
//             are reported. A template added after watch() started triggers a fresh LIST.
// Every callback runs on the driver's io thread. Each request is one connection (no
// pooling), at most 32 at a time (the rest queue), each bounded by request_timeout.
// stop(): closes every connection and joins; callbacks of requests still in flight are
// dropped, and calls after stop() are ignored. Do not call stop() from a callback.
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "io/instance_driver.hpp"

namespace iota::io {

struct kubernetes_settings {
  std::string url;  // https://kubernetes.default.svc, http://127.0.0.1:8001, may end in a path
  std::string namespace_name = "iota";
  std::string token;  // bearer token; "" sends no Authorization header
  // When set, the token is read from this file (and re-read every minute, and after a 401):
  // projected service-account tokens are rotated by the kubelet.
  std::string token_file;
  bool insecure_skip_tls_verify = true;
  bool run_in_pod = false;
  std::string ca_file;  // PEM bundle to verify the server with; "" = system default paths
  std::chrono::milliseconds request_timeout{10000};  // connect + TLS + request + response
  std::chrono::milliseconds retry_delay{2000};       // before a dropped watch is resumed
};

// Where in_cluster() finds the pod's service account and the API server's address.
struct in_cluster_source {
  std::string service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
  // Environment lookup (KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT); empty: ::getenv.
  std::function<std::optional<std::string>(const std::string&)> env;
};

// When base.run_in_pod is set: url = https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT,
// token (and token_file) from <dir>/token, ca_file = <dir>/ca.crt when it exists, namespace
// from <dir>/namespace when it exists and is not empty. Without run_in_pod, base unchanged.
// What could not be found keeps base's value and is described in *error (if given), e.g.
// "in-cluster: cannot read /var/run/secrets/kubernetes.io/serviceaccount/token".
kubernetes_settings in_cluster(kubernetes_settings base, const in_cluster_source& source = {},
                               std::string* error = nullptr);

std::unique_ptr<instance_driver> make_kubernetes_driver(kubernetes_settings settings);

}  // namespace iota::io
