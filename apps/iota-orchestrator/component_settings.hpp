#pragma once
// The daemon's settings (config/) copied into each component's own settings: one function a
// component, so that wiring (daemon.cpp) reads as what starts in which order.
#include <memory>
#include <string>

#include "actors/heartbeat_ticker.hpp"
#include "actors/instance_fleet.hpp"
#include "actors/leader.hpp"
#include "actors/mqtt_bridge.hpp"
#include "actors/resource_orchestrator.hpp"
#include "config/settings.hpp"
#include "io/http_server.hpp"
#include "io/instance_driver.hpp"
#include "io/inventory.hpp"
#include "io/kafka_consumer.hpp"
#include "io/mqtt_client.hpp"
#include "io/notify_journal.hpp"
#include "model/notify.hpp"

namespace iota::apps {

actors::orchestrator_settings orchestrator_settings_of(const config::settings& cfg,
                                                       const config::resource_settings& r);
actors::fleet_settings fleet_settings_of(const config::settings& cfg,
                                         const config::resource_settings& r);
actors::ticker_settings ticker_settings_of(const config::settings& cfg,
                                           const config::resource_settings& r);
io::kafka_consumer_settings kafka_settings_of(const config::settings& cfg,
                                              const config::resource_settings& r);
model::routing_table routing_of(const config::settings& cfg);
actors::mqtt_bridge_settings bridge_settings_of(const config::settings& cfg);
// This daemon's election znode data names it: {"daemon":"<host>:<pid>","http":"<listen>"}.
actors::leader_settings leader_settings_of(const config::settings& cfg);
io::http_server_settings http_server_settings_of(const config::settings& cfg,
                                                 std::chrono::milliseconds response_timeout);
io::mqtt_settings mqtt_settings_of(const config::settings& cfg);
io::journal_settings journal_settings_of(const config::settings& cfg);

// A file or a PostgreSQL query (SPEC section 13). Throws std::invalid_argument for a conninfo
// libpq cannot parse (the message redacts the password).
std::shared_ptr<io::inventory_source> make_inventory(const config::resource_settings& r);
// The configured instance driver; nullptr with `error` set when it cannot be made.
std::shared_ptr<io::instance_driver> make_driver(const config::settings& cfg, std::string& error);

}  // namespace iota::apps
