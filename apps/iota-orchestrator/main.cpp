#include "apps/iota-orchestrator/daemon.hpp"

int main(int argc, char** argv) { return iota::apps::run_daemon(argc, argv); }
