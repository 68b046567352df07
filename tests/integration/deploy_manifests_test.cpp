// deploy/ through kubectl (issue 7): `kubectl apply --dry-run=client` (-k and -f) against the
// discovery of the fake API server of tests/fakes on 127.0.0.1, `kubectl kustomize` offline,
// and a broken copy of deploy/ that kubectl must refuse. What is expected is read from the
// manifests named by deploy/kustomization.yaml, not listed here.
//
// kubectl is found as $IOTA_KUBECTL, else on PATH (scripts/deps installs Debian's
// kubernetes-client when there is none); without it every test fails and says so. It runs
// with HOME, KUBECONFIG and --cache-dir in a temp dir, so no user config or discovery cache
// is used. --validate=false: client-side validation would download the OpenAPI schema, which
// the fake does not serve; the kinds are still checked against the fake's discovery.
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "fakes/fake_pods_api.hpp"
#include "fixtures/files.hpp"
#include "fixtures/process.hpp"

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using iota::test::fake_pods_api;
using iota::test::fake_pods_api_options;
using iota::test::read_file;
using iota::test::write_file;

namespace {

constexpr auto kubectl_deadline = 120s;  // a loaded 2-core CI machine
const std::string token = "deploy-t0ken";

fs::path deploy_dir() { return fs::path(IOTA_SOURCE_DIR) / "deploy"; }

// $IOTA_KUBECTL, else kubectl on PATH; "" when there is none.
std::string find_kubectl() {
  if (const char* explicit_path = std::getenv("IOTA_KUBECTL"); explicit_path && *explicit_path) {
    return ::access(explicit_path, X_OK) == 0 ? std::string(explicit_path) : std::string();
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "";
  std::size_t begin = 0;
  while (begin <= dirs.size()) {
    auto colon = dirs.find(':', begin);
    if (colon == std::string::npos) colon = dirs.size();
    std::string dir = dirs.substr(begin, colon - begin);
    begin = colon + 1;
    if (dir.empty()) continue;
    std::string candidate = dir + "/kubectl";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

std::string require_kubectl() {
  auto kubectl = find_kubectl();
  if (kubectl.empty()) {
    if (const char* explicit_path = std::getenv("IOTA_KUBECTL"); explicit_path && *explicit_path) {
      FAIL("IOTA_KUBECTL=" << explicit_path << " is not an executable file");
    }
    FAIL("kubectl is not on PATH (and IOTA_KUBECTL is not set): scripts/deps installs it "
         "(Debian package kubernetes-client)");
  }
  return kubectl;
}

struct manifest_object {
  std::string api_version;
  std::string kind;
  std::string name;
  std::string ns;  // "" for cluster-scoped objects
  std::string file;

  std::string group() const {
    auto slash = api_version.find('/');
    return slash == std::string::npos ? std::string() : api_version.substr(0, slash);
  }
  // How kubectl names it: "deployment.apps/iota-orchestrator", "configmap/x".
  std::string kubectl_name() const {
    std::string lower = kind;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return lower + (group().empty() ? "" : "." + group()) + "/" + name;
  }
  auto key() const { return std::tie(api_version, kind, name, ns); }
  bool operator<(const manifest_object& o) const { return key() < o.key(); }
  bool operator==(const manifest_object& o) const { return key() == o.key(); }
};

std::vector<std::string> kustomization_files(const fs::path& dir) {
  auto kustomization = YAML::LoadFile((dir / "kustomization.yaml").string());
  std::vector<std::string> files;
  for (const auto& n : kustomization["resources"]) files.push_back(n.as<std::string>());
  return files;
}

void add_objects(const std::vector<YAML::Node>& docs, const std::string& file,
                 std::vector<manifest_object>& out) {
  for (const auto& doc : docs) {
    if (!doc || doc.IsNull()) continue;
    INFO(file);
    REQUIRE(doc.IsMap());
    manifest_object o;
    o.api_version = doc["apiVersion"].as<std::string>();
    o.kind = doc["kind"].as<std::string>();
    o.name = doc["metadata"]["name"].as<std::string>();
    if (doc["metadata"]["namespace"]) o.ns = doc["metadata"]["namespace"].as<std::string>();
    o.file = file;
    out.push_back(o);
  }
}

// Every object of the files deploy/kustomization.yaml names.
std::vector<manifest_object> deploy_objects() {
  std::vector<manifest_object> out;
  for (const auto& file : kustomization_files(deploy_dir())) {
    add_objects(YAML::LoadAllFromFile((deploy_dir() / file).string()), file, out);
  }
  REQUIRE(out.size() >= 6);
  return out;
}

std::string object_path(const manifest_object& o) {
  for (const auto& r : iota::test::discovery_resources()) {
    if (r.kind != o.kind || r.group != o.group()) continue;
    std::string path = r.group.empty() ? "/api/" + r.version : "/apis/" + r.group + "/" + r.version;
    if (r.namespaced) path += "/namespaces/" + o.ns;
    return path + "/" + r.name + "/" + o.name;
  }
  FAIL("the fake's discovery does not list " << o.api_version << " " << o.kind);
  return {};
}

struct kubectl_run {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// A kubectl with its own HOME, kubeconfig (the fake at `server`, the bearer token, the CA
// certificate for https) and cache.
class kubectl_env {
 public:
  explicit kubectl_env(const std::string& server, const std::string& ca_pem = {})
      : kubectl_(require_kubectl()), dir_("iota-kubectl") {
    std::string ca_line;
    if (!ca_pem.empty()) {
      write_file(dir_.path() + "/ca.crt", ca_pem);
      ca_line = "      certificate-authority: " + dir_.path() + "/ca.crt\n";
    }
    write_file(kubeconfig(), "apiVersion: v1\n"
                             "kind: Config\n"
                             "clusters:\n"
                             "  - name: fake\n"
                             "    cluster:\n"
                             "      server: " + server + "\n" + ca_line +
                             "users:\n"
                             "  - name: tester\n"
                             "    user:\n"
                             "      token: " + token + "\n"
                             "contexts:\n"
                             "  - name: fake\n"
                             "    context:\n"
                             "      cluster: fake\n"
                             "      user: tester\n"
                             "      namespace: default\n"
                             "current-context: fake\n");
  }

  std::string kubeconfig() const { return dir_.path() + "/kubeconfig"; }
  const std::string& dir() const { return dir_.path(); }

  kubectl_run run(std::vector<std::string> args) {
    std::vector<std::string> argv{kubectl_};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--cache-dir=" + dir_.path() + "/cache");
    std::string log = dir_.path() + "/run-" + std::to_string(++runs_) + ".log";
    iota::test::child_process child(argv,
                                    {{"HOME", dir_.path()}, {"KUBECONFIG", kubeconfig()}},
                                    log);
    bool exited = iota::test::wait_until([&] { return !child.running(); }, kubectl_deadline);
    kubectl_run result;
    result.output = read_file(log);
    INFO("kubectl " << args.front() << " output:\n" << result.output);
    REQUIRE(exited);
    int status = child.exit_status();
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
  }

 private:
  std::string kubectl_;
  iota::test::temp_dir dir_;
  int runs_ = 0;
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(line);
  }
  return out;
}

// The objects kubectl reports as "<kind>.<group>/<name> created (dry run)", in its order.
std::vector<std::string> dry_run_created(const std::string& output) {
  static const std::regex line(R"(^(\S+/\S+) created \(dry run\)$)");
  std::vector<std::string> out;
  for (const auto& l : lines_of(output)) {
    std::smatch m;
    if (std::regex_match(l, m, line)) out.push_back(m[1]);
  }
  return out;
}

std::multiset<std::string> kubectl_names(const std::vector<manifest_object>& objects) {
  std::multiset<std::string> out;
  for (const auto& o : objects) out.insert(o.kubectl_name());
  return out;
}

// What kubectl asked the fake: discovery, then each live object (absent: 404); nothing written.
void check_requests(const fake_pods_api& api, const std::vector<manifest_object>& objects) {
  auto requests = api.requests();
  std::set<std::string> paths;
  for (const auto& r : requests) {
    CHECK(r.method == "GET");  // a client dry run writes nothing
    paths.insert(r.path);
  }
  CHECK(paths.count("/api") == 1);
  CHECK(paths.count("/apis") == 1);
  for (const auto& o : objects) {
    INFO(o.kubectl_name());
    auto path = object_path(o);
    auto got = std::find_if(requests.begin(), requests.end(),
                            [&](const auto& r) { return r.path == path; });
    REQUIRE(got != requests.end());
    CHECK(got->status == 404);
  }
  CHECK(api.pod_names("iota").empty());
}

// `kubectl apply --dry-run=client --validate=false <sources>`: exit 0 and "<object> created
// (dry run)" for every object of `objects`, nothing else. Returns them in kubectl's order.
std::vector<std::string> apply_dry_run(kubectl_env& kubectl, const std::vector<std::string>& sources,
                                       const std::vector<manifest_object>& objects) {
  std::vector<std::string> args{"apply", "--dry-run=client", "--validate=false"};
  args.insert(args.end(), sources.begin(), sources.end());
  auto run = kubectl.run(args);
  INFO(run.output);
  CHECK(run.exit_code == 0);
  auto created = dry_run_created(run.output);
  CHECK(std::multiset<std::string>(created.begin(), created.end()) == kubectl_names(objects));
  return created;
}

}  // namespace

TEST_CASE("kubectl apply --dry-run=client accepts every deploy/ manifest", "[kubernetes][deploy]") {
  auto objects = deploy_objects();
  // Plain HTTP, no token: kubectl sends no bearer token over plain HTTP.
  fake_pods_api api;
  kubectl_env kubectl(api.url());

  SECTION("apply -k deploy/") {
    auto created = apply_dry_run(kubectl, {"-k", deploy_dir().string()}, objects);
    // kustomize orders the Namespace before the objects in it.
    REQUIRE_FALSE(created.empty());
    CHECK(created.front().rfind("namespace/", 0) == 0);
  }

  SECTION("apply -f each manifest") {
    std::vector<std::string> files;
    for (const auto& file : kustomization_files(deploy_dir())) {
      files.push_back("-f");
      files.push_back((deploy_dir() / file).string());
    }
    apply_dry_run(kubectl, files, objects);
  }

  check_requests(api, objects);
}

TEST_CASE("kubectl apply --dry-run=client -k deploy/ over TLS with a bearer token",
          "[kubernetes][deploy]") {
  auto objects = deploy_objects();
  fake_pods_api_options options;
  options.tls = true;
  fake_pods_api api(options);
  api.require_token(token);  // anything else: 401
  kubectl_env kubectl(api.url(), api.cert_pem());

  apply_dry_run(kubectl, {"-k", deploy_dir().string()}, objects);
  check_requests(api, objects);
  for (const auto& r : api.requests()) CHECK(r.status != 401);
}

TEST_CASE("kubectl kustomize deploy/ emits every object, offline", "[kubernetes][deploy]") {
  auto objects = deploy_objects();
  kubectl_env kubectl("http://127.0.0.1:1");  // never contacted
  auto run = kubectl.run({"kustomize", deploy_dir().string()});
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  std::vector<manifest_object> emitted;
  add_objects(YAML::LoadAll(run.output), "kubectl kustomize", emitted);
  std::sort(emitted.begin(), emitted.end());
  std::sort(objects.begin(), objects.end());
  CHECK(emitted == objects);
  // The ConfigMap's data comes through whole (the daemon's config and both pod templates).
  for (const auto& doc : YAML::LoadAll(run.output)) {
    if (doc["kind"].as<std::string>() != "ConfigMap") continue;
    auto original = YAML::LoadFile((deploy_dir() / "configmap.yaml").string());
    REQUIRE(doc["data"].size() == original["data"].size());
    for (const auto& entry : original["data"]) {
      auto key = entry.first.as<std::string>();
      INFO(key);
      CHECK(doc["data"][key].as<std::string>() == entry.second.as<std::string>());
    }
  }
}

TEST_CASE("kubectl refuses a deploy/ copy with a wrong apiVersion or kind", "[kubernetes][deploy]") {
  fake_pods_api api;
  kubectl_env kubectl(api.url());

  struct breakage {
    std::string file, from, to, expected;
  };
  for (const auto& b : std::vector<breakage>{
           {"deployment.yaml", "apiVersion: apps/v1\n", "apiVersion: apps/v1beta9\n",
            R"(no matches for kind "Deployment" in version "apps/v1beta9")"},
           {"role.yaml", "kind: Role\n", "kind: Rolle\n",
            R"(no matches for kind "Rolle" in version "rbac.authorization.k8s.io/v1")"}}) {
    INFO(b.file << ": " << b.to);
    fs::path copy = fs::path(kubectl.dir()) / ("deploy-" + b.file);
    fs::create_directories(copy);
    for (const auto& entry : fs::directory_iterator(deploy_dir())) {
      if (entry.is_regular_file())  // the manifests (deploy/monitoring/ is not one)
        fs::copy_file(entry.path(), copy / entry.path().filename());
    }
    auto text = read_file(copy / b.file);
    auto at = text.find(b.from);
    REQUIRE(at != std::string::npos);
    text.replace(at, b.from.size(), b.to);
    write_file(copy / b.file, text);

    auto run = kubectl.run({"apply", "--dry-run=client", "--validate=false", "-k", copy.string()});
    INFO(run.output);
    CHECK(run.exit_code != 0);
    CHECK_THAT(run.output, Catch::Contains(b.expected));
  }
  CHECK(api.count("POST") == 0);
  CHECK(api.count("PATCH") == 0);
}
