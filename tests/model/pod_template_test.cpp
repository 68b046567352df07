#include "model/pod_template.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

using namespace iota::model;
using json = nlohmann::json;

namespace {

std::string read_repo_file(const std::string& relative) {
  std::ifstream in(std::string(IOTA_SOURCE_DIR) + "/" + relative, std::ios::binary);
  INFO("reading " << relative);
  REQUIRE(in.good());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

pod_template parsed(std::string_view text, std::string_view origin = "test.yml") {
  auto r = pod_template::parse(text, origin);
  if (auto* error = std::get_if<std::string>(&r))
    FAIL("unexpected error: " << *error);
  return std::get<pod_template>(r);
}

std::string error_of(std::string_view text, std::string_view origin = "test.yml") {
  auto r = pod_template::parse(text, origin);
  REQUIRE(std::holds_alternative<std::string>(r));
  return std::get<std::string>(r);
}

// The smallest template parse() accepts; tests add to it.
const char* minimal = R"(
metadata:
  labels: {}
spec:
  containers:
    - env:
        - name: ID
)";

}  // namespace

TEST_CASE("the repo's pod templates parse and render per instance", "[pod_template]") {
  struct row {
    const char* file;
    const char* instance_name;
    const char* resource;
  };
  for (auto [file, instance_name, resource] :
       {row{"templates/iota-dac/pod-template.yml", "iota-dac", "Thing"},
        row{"templates/iota-rules-engine/pod-template.yml", "iota-rules-engine", "Rule"}}) {
    INFO(file);
    auto tpl = parsed(read_repo_file(file), file);
    CHECK(tpl.origin() == file);
    const std::string pod_name = std::string(instance_name) + "-7";

    // YAML: read back with a YAML parser, the way kubectl would
    YAML::Node pod = YAML::Load(tpl.render_yaml(instance_name, 7));
    CHECK(pod["apiVersion"].as<std::string>() == "v1");
    CHECK(pod["kind"].as<std::string>() == "Pod");
    CHECK(pod["metadata"]["name"].as<std::string>() == pod_name);
    CHECK(pod["metadata"]["namespace"].as<std::string>() == "iota");
    CHECK(pod["metadata"]["labels"]["app"].as<std::string>() == instance_name);
    CHECK(pod["metadata"]["labels"]["instanceId"].as<std::string>() == "7");
    CHECK(pod["metadata"]["labels"]["instanceId"].Tag() == "!");  // quoted: stays a string
    CHECK(pod["spec"]["restartPolicy"].as<std::string>() == "Never");
    auto container = pod["spec"]["containers"][0];
    CHECK(pod["spec"]["containers"].size() == 1);
    CHECK(container["name"].as<std::string>() == instance_name);
    CHECK(container["image"].as<std::string>() == "iota/" + std::string(instance_name) + ":latest");
    CHECK(container["command"][0].as<std::string>() == "iota-instance");
    CHECK(container["args"][1].as<std::string>() == resource);
    CHECK(container["env"][0]["name"].as<std::string>() == "IOTA_INSTANCE_ID");
    CHECK(container["env"][0]["value"].as<std::string>() == "7");
    CHECK(container["env"][0]["value"].Tag() == "!");
    CHECK(container["resources"]["limits"]["memory"].as<std::string>() == "256Mi");

    // JSON: the POST body
    json body = json::parse(tpl.render_json(instance_name, 7));
    CHECK(body["apiVersion"] == "v1");
    CHECK(body["kind"] == "Pod");
    CHECK(body["metadata"]["name"] == pod_name);
    CHECK(body["metadata"]["labels"] == json{{"app", instance_name}, {"instanceId", "7"}});
    const auto& c = body["spec"]["containers"][0];
    CHECK(c["command"] == json::array({"iota-instance"}));
    CHECK(c["args"] == json::array({"--resource", resource}));
    CHECK(c["env"] == json::array({{{"name", "IOTA_INSTANCE_ID"}, {"value", "7"}},
                                   {{"name", "IOTA_RESOURCE"}, {"value", resource}},
                                   {{"name", "IOTA_ZOOKEEPER"}, {"value", "zookeeper.iota:2181"}},
                                   {{"name", "IOTA_KAFKA_BROKERS"}, {"value", "kafka.iota:9092"}}}));
    CHECK(c["resources"]["requests"] == json{{"cpu", "100m"}, {"memory", "128Mi"}});
    CHECK(c["resources"]["limits"] == json{{"cpu", "500m"}, {"memory", "256Mi"}});

    // the local-process driver
    auto proc = tpl.process(7);
    CHECK(proc.argv == std::vector<std::string>{"iota-instance", "--resource", resource});
    REQUIRE(proc.env.size() == 4);
    CHECK(proc.env[0] == std::pair<std::string, std::string>{"IOTA_INSTANCE_ID", "7"});
    CHECK(proc.env[1] == std::pair<std::string, std::string>{"IOTA_RESOURCE", resource});
    CHECK(proc.env[2].first == "IOTA_ZOOKEEPER");
    CHECK(proc.env[3].first == "IOTA_KAFKA_BROKERS");
  }
}

TEST_CASE("render_json types plain scalars, keeps quoted ones strings", "[pod_template]") {
  auto tpl = parsed(R"(
apiVersion: v1
metadata:
  name: placeholder
  labels:
    instanceId: 0
    tier: "1"
  annotations:
    single: '2'
    yes-no: yes
    on: off
spec:
  terminationGracePeriodSeconds: 30
  priority: -5
  activeDeadlineSeconds: 0x1F
  octal: 0o17
  hostNetwork: false
  hostPID: True
  nodeName: ~
  nodeSelector: null
  schedulerName:
  ratio: 0.5
  exp: 1e3
  leading: .5
  version: 1.10
  big: 123456789012345678901234567890
  inf: .inf
  nan: .nan
  tagged: !!str 42
  taggedInt: !!int "42"
  dashes: 1-2
  containers:
    - name: w
      ports:
        - containerPort: 8080
          protocol: TCP
      env:
        - name: ID
          value: 0
        - name: PORT
          value: "8080"
)");
  json body = json::parse(tpl.render_json("w", 3));
  const auto& spec = body["spec"];
  CHECK(body["metadata"]["labels"]["instanceId"] == "3");  // plain 0 in the template
  CHECK(body["metadata"]["labels"]["tier"] == "1");
  CHECK(body["metadata"]["annotations"]["single"] == "2");
  CHECK(body["metadata"]["annotations"]["yes-no"] == "yes");  // YAML 1.2: not a bool
  CHECK(body["metadata"]["annotations"]["on"] == "off");
  CHECK(spec["terminationGracePeriodSeconds"] == 30);
  CHECK(spec["terminationGracePeriodSeconds"].is_number_integer());
  CHECK(spec["priority"] == -5);
  CHECK(spec["activeDeadlineSeconds"] == 31);
  CHECK(spec["octal"] == 15);
  CHECK(spec["hostNetwork"] == false);
  CHECK(spec["hostPID"] == true);
  CHECK(spec["nodeName"].is_null());
  CHECK(spec["nodeSelector"].is_null());
  CHECK(spec["schedulerName"].is_null());
  CHECK(spec["ratio"] == 0.5);
  CHECK(spec["exp"] == 1000.0);
  CHECK(spec["exp"].is_number_float());
  CHECK(spec["leading"] == 0.5);
  CHECK(spec["version"] == 1.1);
  CHECK(spec["big"].is_number_float());
  CHECK(spec["inf"] == ".inf");
  CHECK(spec["nan"] == ".nan");
  CHECK(spec["tagged"] == "42");
  CHECK(spec["taggedInt"] == 42);
  CHECK(spec["dashes"] == "1-2");
  CHECK(spec["containers"][0]["ports"][0]["containerPort"] == 8080);
  CHECK(spec["containers"][0]["env"][0]["value"] == "3");  // plain 0 in the template
  CHECK(spec["containers"][0]["env"][1]["value"] == "8080");

  // keys keep the template's order, which makes bodies readable in logs
  auto text = tpl.render_json("w", 3);
  CHECK(text.find("\"apiVersion\"") < text.find("\"metadata\""));
  CHECK(text.find("\"metadata\"") < text.find("\"spec\""));
}

TEST_CASE("render_yaml keeps the id fields strings and the rest as written", "[pod_template]") {
  auto tpl = parsed(R"(
metadata:
  labels:
    instanceId: 0
    port: 80
    quoted: "80"
spec:
  containers:
    - command: [a, "b c"]
      env:
        - name: ID
          value: 0
)");
  auto text = tpl.render_yaml("w", 12);
  CHECK(text.find("instanceId: \"12\"") != std::string::npos);
  CHECK(text.find("value: \"12\"") != std::string::npos);
  CHECK(text.find("name: \"w-12\"") != std::string::npos);
  YAML::Node pod = YAML::Load(text);
  CHECK(pod["metadata"]["labels"]["port"].Tag() == "?");   // still a plain 80
  CHECK(pod["metadata"]["labels"]["quoted"].Tag() == "!");  // still a quoted "80"
  CHECK(pod["spec"]["containers"][0]["command"].Style() == YAML::EmitterStyle::Flow);
  CHECK(pod["spec"]["containers"][0]["command"][1].as<std::string>() == "b c");

  // the output is itself a valid template, and renders the same way again
  auto again = parsed(text);
  CHECK(again.render_yaml("w", 12) == text);
  CHECK(again.render_json("w", 5) == tpl.render_json("w", 5));
}

TEST_CASE("renders are independent of each other", "[pod_template]") {
  auto tpl = parsed(read_repo_file("templates/iota-dac/pod-template.yml"));
  auto yaml_1 = tpl.render_yaml("iota-dac", 1);
  auto json_1 = tpl.render_json("iota-dac", 1);
  auto proc_1 = tpl.process(1);
  auto yaml_2 = tpl.render_yaml("iota-dac", 2);
  auto json_2 = tpl.render_json("other", 2);
  auto proc_2 = tpl.process(2);
  CHECK(yaml_1 != yaml_2);
  CHECK(json::parse(json_2)["metadata"]["name"] == "other-2");
  CHECK(json::parse(json_2)["metadata"]["labels"]["instanceId"] == "2");
  CHECK(proc_2.env[0].second == "2");
  // the first renders come out the same after the second ones
  CHECK(tpl.render_yaml("iota-dac", 1) == yaml_1);
  CHECK(tpl.render_json("iota-dac", 1) == json_1);
  CHECK(tpl.process(1).env == proc_1.env);
  CHECK(json::parse(json_1)["metadata"]["name"] == "iota-dac-1");
  // copies are independent values too
  pod_template copy = tpl;
  CHECK(copy.render_json("iota-dac", 1) == json_1);
  CHECK(tpl.source() == copy.source());
}

TEST_CASE("parse names the path that is missing or of the wrong kind", "[pod_template]") {
  struct row {
    const char* text;
    const char* error;
  };
  for (auto [text, expected] : {
           row{"spec: {containers: [{env: [{name: a}]}]}", "missing metadata"},
           row{"metadata:\nspec: {containers: [{env: [{name: a}]}]}", "missing metadata"},
           row{"metadata: pod\nspec: {containers: [{env: [{name: a}]}]}", "metadata is not a map"},
           row{"metadata: {name: x}\nspec: {containers: [{env: [{name: a}]}]}", "missing metadata.labels"},
           row{"metadata: {labels: ~}\nspec: {containers: [{env: [{name: a}]}]}", "missing metadata.labels"},
           row{"metadata: {labels: [a]}\nspec: {containers: [{env: [{name: a}]}]}",
               "metadata.labels is not a map"},
           row{"metadata: {labels: {}}", "missing spec"},
           row{"metadata: {labels: {}}\nspec: []", "spec is not a map"},
           row{"metadata: {labels: {}}\nspec: {}", "missing spec.containers[0]"},
           row{"metadata: {labels: {}}\nspec: {containers: []}", "missing spec.containers[0]"},
           row{"metadata: {labels: {}}\nspec: {containers: {env: []}}", "spec.containers is not a sequence"},
           row{"metadata: {labels: {}}\nspec: {containers: [w]}", "spec.containers[0] is not a map"},
           row{"metadata: {labels: {}}\nspec: {containers: [{name: w}]}", "missing spec.containers[0].env[0]"},
           row{"metadata: {labels: {}}\nspec: {containers: [{env: []}]}", "missing spec.containers[0].env[0]"},
           row{"metadata: {labels: {}}\nspec: {containers: [{env: [ID]}]}",
               "spec.containers[0].env[0] is not a map"},
           row{"metadata: {labels: {}}\nspec: {containers: [{env: [{value: x}]}]}",
               "missing spec.containers[0].env[0].name"},
           row{"metadata: {labels: {}}\nspec: {containers: [{env: [{name: a}, {value: x}]}]}",
               "missing spec.containers[0].env[1].name"},
           row{"metadata: {labels: {}}\nspec: {containers: [{env: [{name: a, value: [x]}]}]}",
               "spec.containers[0].env[0].value is not a string"},
           row{"metadata: {labels: {}}\nspec: {containers: [{command: run, env: [{name: a}]}]}",
               "spec.containers[0].command is not a sequence"},
           row{"metadata: {labels: {}}\nspec: {containers: [{args: [a, [b]], env: [{name: a}]}]}",
               "spec.containers[0].args[1] is not a string"},
           row{"", "top level is not a map"},
           row{"- a\n- b", "top level is not a map"},
           row{"just text", "top level is not a map"},
           row{"metadata: {labels: {}\n", "invalid YAML"},
           row{"a: [b\nc: d", "invalid YAML"},
           row{"metadata: &m {labels: {}, self: *m}\nspec: {containers: [{env: [{name: a}]}]}",
               "recursive or exponential alias"},
       }) {
    INFO(text);
    auto error = error_of(text, "iota-dac/pod-template.yml");
    CHECK_THAT(error, Catch::StartsWith("pod template iota-dac/pod-template.yml: "));
    CHECK_THAT(error, Catch::Contains(expected));
  }
  CHECK(error_of("metadata: {labels: {}}\nspec: {containers: [{name: w}]}", "x/pod-template.yml") ==
        "pod template x/pod-template.yml: missing spec.containers[0].env[0]");
}

TEST_CASE("aliases that expand exponentially are refused at parse", "[pod_template]") {
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 12; ++i) {
    auto prev = "*a" + std::to_string(i - 1);
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev;
    for (int j = 1; j < 10; ++j)
      text += ", " + prev;
    text += "]\n";
  }
  text += std::string(minimal);
  CHECK_THAT(error_of(text), Catch::Contains("alias"));
  // a few harmless aliases are fine
  auto tpl = parsed(std::string("x-env: &env {name: ID, value: v}\n") +
                    "metadata: {labels: {}}\nspec: {containers: [{env: [*env, {name: B, value: b}]}]}");
  CHECK(tpl.process(4).env ==
        std::vector<std::pair<std::string, std::string>>{{"ID", "4"}, {"B", "b"}});
}

TEST_CASE("process: argv from command and args, env in order", "[pod_template]") {
  SECTION("a template without command or args gives an empty argv") {
    auto proc = parsed(minimal).process(9);
    CHECK(proc.argv.empty());
    CHECK(proc.env == std::vector<std::pair<std::string, std::string>>{{"ID", "9"}});
  }
  SECTION("args only, command only") {
    auto base = std::string("metadata: {labels: {}}\nspec: {containers: [{");
    auto env = std::string("env: [{name: ID}]}]}");
    CHECK(parsed(base + "args: [--x, 1], " + env).process(0).argv ==
          std::vector<std::string>{"--x", "1"});
    CHECK(parsed(base + "command: [run, \"--y\"], " + env).process(0).argv ==
          std::vector<std::string>{"run", "--y"});
  }
  SECTION("only container 0 counts; valueFrom entries are left out; a missing value is empty") {
    auto tpl = parsed(R"(
metadata: {labels: {}}
spec:
  containers:
    - command: [worker]
      args: [--port, 8080, "--on"]
      env:
        - name: ID
          value: "0"
        - name: SECRET
          valueFrom: {secretKeyRef: {name: s, key: k}}
        - name: EMPTY
        - name: NUMBER
          value: 42
    - command: [sidecar]
      env: [{name: OTHER, value: x}]
)");
    auto proc = tpl.process(-1);
    CHECK(proc.argv == std::vector<std::string>{"worker", "--port", "8080", "--on"});
    CHECK(proc.env == std::vector<std::pair<std::string, std::string>>{
                          {"ID", "-1"}, {"EMPTY", ""}, {"NUMBER", "42"}});
  }
}
