// iota-kafka-mock: the local Kafka stand-in (shared/DESIGN.md, shared/LOCAL-SERVERS.md).
// librdkafka's mock cluster speaks the real Kafka protocol on loopback ports; there is no Kafka
// broker package on this machine. Prints `bootstrap: <list>` on stdout (and optionally to a
// file, written atomically) and runs until SIGINT/SIGTERM.
#include "io/files.hpp"
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <unistd.h>

namespace {

constexpr const char* usage_text =
  "usage: iota-kafka-mock [--brokers N] [--topic NAME]... [--bootstrap-file PATH]\n"
  "\n"
  "Runs librdkafka's mock Kafka cluster on 127.0.0.1 until SIGINT or SIGTERM.\n"
  "\n"
  "  --brokers N            number of brokers (default 3)\n"
  "  --topic NAME           also create topic NAME with 1 partition (repeatable);\n"
  "                         topic HeartBeat is always created\n"
  "  --bootstrap-file PATH  also write the bootstrap list to PATH (atomically, via rename)\n"
  "  --help                 this text\n"
  "\n"
  "Prints one line `bootstrap: <host:port,...>` on stdout once the cluster is up.\n";

struct options {
  int brokers = 3;
  std::vector<std::string> topics{"HeartBeat"};
  std::string bootstrap_file;
};

// 0 = run, 1 = --help printed, 2 = usage error printed.
int parse(int argc, char** argv, options& opts) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "iota-kafka-mock: %s needs a value\n", arg.c_str());
        return false;
      }
      out = argv[++i];
      return true;
    };
    std::string v;
    if (arg == "--help" || arg == "-h") {
      std::fputs(usage_text, stdout);
      return 1;
    } else if (arg == "--brokers") {
      if (!value(v))
        return 2;
      char* end = nullptr;
      errno = 0;
      long n = std::strtol(v.c_str(), &end, 10);
      if (errno != 0 || end == v.c_str() || *end != '\0' || n < 1 || n > 64) {
        std::fprintf(stderr, "iota-kafka-mock: --brokers: expected 1..64, got '%s'\n", v.c_str());
        return 2;
      }
      opts.brokers = static_cast<int>(n);
    } else if (arg == "--topic") {
      if (!value(v))
        return 2;
      if (v.empty()) {
        std::fputs("iota-kafka-mock: --topic: empty name\n", stderr);
        return 2;
      }
      bool known = false;
      for (auto& t : opts.topics)
        known = known || t == v;
      if (!known)
        opts.topics.push_back(v);
    } else if (arg == "--bootstrap-file") {
      if (!value(opts.bootstrap_file))
        return 2;
    } else {
      std::fprintf(stderr, "iota-kafka-mock: unknown argument '%s'\n\n%s", arg.c_str(),
                   usage_text);
      return 2;
    }
  }
  return 0;
}

// Readers poll for the file: written beside it and renamed, so they see either nothing or
// the whole line.
bool write_atomically(const std::string& path, const std::string& content) {
  if (iota::io::write_file_atomically(path, content, true))
    return true;
  std::fprintf(stderr, "iota-kafka-mock: cannot write %s: %s\n", path.c_str(), std::strerror(errno));
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  options opts;
  if (int r = parse(argc, argv, opts); r != 0)
    return r == 1 ? 0 : 2;

  // Block the stop signals before librdkafka starts its threads (they inherit the mask), so
  // only sigwait() below ever sees them. A signal ignored at exec (SIGINT for a background
  // job of a non-interactive shell) would be discarded even while blocked: reset them first.
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  if (pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr) != 0) {
    std::fputs("iota-kafka-mock: cannot block signals\n", stderr);
    return 1;
  }
  std::signal(SIGPIPE, SIG_IGN);

  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // Warnings and errors only: clients connecting and leaving are normal here.
  if (rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
    std::fprintf(stderr, "iota-kafka-mock: %s\n", errstr);
    rd_kafka_conf_destroy(conf);
    return 1;
  }
  // The handle is only the cluster's bookkeeping owner; it never produces.
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!rk) {
    std::fprintf(stderr, "iota-kafka-mock: rd_kafka_new: %s\n", errstr);
    rd_kafka_conf_destroy(conf);
    return 1;
  }
  rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(rk, opts.brokers);
  if (!mc) {
    std::fputs("iota-kafka-mock: cannot start the mock cluster\n", stderr);
    rd_kafka_destroy(rk);
    return 1;
  }
  int rc = 0;
  for (auto& topic : opts.topics) {
    auto err = rd_kafka_mock_topic_create(mc, topic.c_str(), 1, 1);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::fprintf(stderr, "iota-kafka-mock: cannot create topic %s: %s\n", topic.c_str(),
                   rd_kafka_err2str(err));
      rc = 1;
    }
  }
  std::string bootstrap = rd_kafka_mock_cluster_bootstraps(mc);
  if (rc == 0 && !opts.bootstrap_file.empty() &&
      !write_atomically(opts.bootstrap_file, bootstrap + "\n"))
    rc = 1;

  if (rc == 0) {
    std::printf("bootstrap: %s\n", bootstrap.c_str());
    std::fflush(stdout);
    for (;;) {
      int sig = 0;
      if (sigwait(&stop_signals, &sig) == 0)
        break;
    }
  }

  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  if (!opts.bootstrap_file.empty() && rc == 0)
    std::remove(opts.bootstrap_file.c_str());
  return rc;
}
