#pragma once
// A stand-in for the Kubernetes pods API (the calls of io/kubernetes_driver.hpp), served over
// HTTP/1.1 on 127.0.0.1 with a free port, plain or TLS (a self-signed certificate for
// 127.0.0.1 and localhost, made at start with the OpenSSL API). One io thread.
//
//   POST   /api/v1/namespaces/<ns>/pods         201 (phase `initial_phase`), 409 AlreadyExists
//                                               while the name exists or is terminating
//   GET    /api/v1/namespaces/<ns>/pods/<name>  200 pod / 404 NotFound
//   POST   /api/v1/namespaces/<ns>/events       201, kept (events()); 422 without
//                                               involvedObject.name, reason, metadata.name
//   DELETE /api/v1/namespaces/<ns>/pods/<name>  200: terminating (deletionTimestamp set,
//                                               MODIFIED) for `termination`, then removed
//                                               (DELETED); 404 NotFound when absent
//   GET    /api/v1/namespaces/<ns>/pods[?labelSelector=k|k=v,...]  PodList with the current
//                                               metadata.resourceVersion
//   GET    ...pods?watch=1[&resourceVersion=N]  chunked JSON lines {"type","object"}: without N
//                                               (or "0") ADDED for every current pod, then
//                                               changes; with N every change after N (kept in
//                                               a history), or, when N is older than the last
//                                               compact(), one ERROR event with a 410 Status
// Discovery, as a real API server (v1.32) answers it in the legacy form, Content-Type
// application/json (clients asking for aggregated discovery, apidiscovery.k8s.io/v2, fall
// back to it), for the kinds of deploy/ (see `discovery_resources()`):
//   GET /version, /api (APIVersions), /api/v1 and /apis/<group>/<version> (APIResourceList),
//       /apis (APIGroupList: apps, rbac.authorization.k8s.io)
// Other objects of those resources (not pods): nothing is stored, so
//   GET  .../<resource>/<name>                  404 Status NotFound
//   GET  .../<resource>                         200 an empty <Kind>List
//   other methods                               405 Status MethodNotAllowed
// at /api/v1[/namespaces/<ns>]/<resource>... and /apis/<g>/<v>[/namespaces/<ns>]/<resource>...
// (namespaced or not as the resource is). That is what `kubectl apply --dry-run=client`
// needs (tests/integration/deploy_manifests_test.cpp).
// Other paths get a plain-text "404 page not found", as from the real server.
// Every change bumps one global resourceVersion. Errors are Status objects as the real API
// sends them ({"kind":"Status","code":409,"reason":"AlreadyExists",...}).
// Test-side methods may be called from any thread.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace iota::test {

struct fake_pods_api_options {
  bool tls = false;
  std::chrono::milliseconds termination{1000};  // how long a deleted pod stays terminating
  std::string initial_phase = "Pending";        // status.phase of a created pod
};

// One resource the fake's discovery lists.
struct api_resource {
  std::string group;    // "" for the core group
  std::string version;  // "v1"
  std::string name;     // plural, e.g. "deployments"
  std::string singular;
  std::string kind;
  bool namespaced = true;
  std::vector<std::string> short_names;
};
const std::vector<api_resource>& discovery_resources();

struct recorded_request {
  std::string method;  // "GET", "POST", "DELETE", ...
  std::string target;  // as received
  std::string path;    // without the query
  std::map<std::string, std::string> query;  // decoded
  std::string authorization;                 // the header, "" when absent
  std::string content_type;
  std::string accept;  // the Accept header, "" when absent
  std::string body;
  int status = 0;  // what the fake answered (200 for a watch stream)
};

class fake_pods_api {
 public:
  explicit fake_pods_api(fake_pods_api_options options = {});
  ~fake_pods_api();  // stop()
  fake_pods_api(const fake_pods_api&) = delete;
  fake_pods_api& operator=(const fake_pods_api&) = delete;

  int port() const;
  std::string url() const;              // http://127.0.0.1:<port> or https://...
  const std::string& cert_pem() const;  // the server's certificate (TLS only)

  // Requests without `Authorization: Bearer <token>` get 401 ("" = no check).
  void require_token(const std::string& token);
  // The next request with this method is answered with `status` (a Status body), once.
  void fail_next(const std::string& method, int status);

  // Sets status.phase (and status.reason when given); MODIFIED. False when there is no pod.
  bool set_phase(const std::string& ns, const std::string& name, const std::string& phase,
                 const std::string& reason = {});
  // Stores a pod as given (namespace, resourceVersion, uid filled in); ADDED or MODIFIED.
  void put_pod(const std::string& ns, nlohmann::json pod);
  // Removes a pod at once (an eviction, a node loss); DELETED. False when there is none.
  bool remove_pod(const std::string& ns, const std::string& name);

  std::optional<nlohmann::json> pod(const std::string& ns, const std::string& name) const;
  bool terminating(const std::string& ns, const std::string& name) const;
  std::vector<std::string> pod_names(const std::string& ns) const;
  // The core/v1 Events posted to POST /api/v1/namespaces/<ns>/events (201), in order.
  std::vector<nlohmann::json> events(const std::string& ns) const;

  // Closes every watch stream abruptly (the client sees the connection drop). Returns once
  // they are closed.
  void drop_watches();
  std::size_t open_watches() const;
  // Forgets the event history: a watch from an older resourceVersion gets 410 Gone.
  void compact();
  std::uint64_t resource_version() const;

  std::size_t count(const std::string& method) const;  // requests received with this method
  std::vector<recorded_request> requests() const;

  // Closes the listener and every connection, joins the io thread. Idempotent.
  void stop();

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace iota::test
