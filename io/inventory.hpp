#pragma once
// Where a resource type's ids come from for orchestrate and reconcile: a file (one id per
// line) or a PostgreSQL query. Loading runs off the caller's thread; `done` runs on the
// loader's thread.
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace iota::io {

struct inventory_result {
  bool ok = false;
  std::vector<std::string> ids;  // in source order; duplicates are the planner's to ignore
  std::string error;             // when !ok: what failed, naming the source
  std::string warning;           // when ok: bad data that was skipped (e.g. NULL ids), or ""
};

class inventory_source {
 public:
  virtual ~inventory_source() = default;
  virtual void load(std::function<void(inventory_result)> done) = 0;
  virtual std::string describe() const = 0;  // for logs: "file /srv/Thing.txt"
};

// One id per line; surrounding whitespace trimmed; blank lines skipped. A missing file is
// an error (an empty inventory is an empty file, never a typo in a path).
std::shared_ptr<inventory_source> make_file_inventory(std::string path);

// Column 0 of every row of `query` (run with the extended protocol: one statement, no
// parameters), as text whatever its type (text, uuid, integer, ...), in row order. NULLs are
// skipped and counted in `warning` (and logged). Every load runs on the inventory's own thread
// (one per inventory object; loads queued while one runs share the next query's result), on a
// kept connection that is reopened after a failure. Connecting is bounded by the conninfo's
// connect_timeout (10 s when absent). `conninfo` is a libpq keyword/value string or URI; libpq's
// PG* environment variables fill what it leaves out. Errors name the source with the password
// redacted. Throws std::invalid_argument if `conninfo` cannot be parsed. The destructor
// abandons a load in progress (its `done` gets ok=false) and joins the thread.
std::shared_ptr<inventory_source> make_postgres_inventory(std::string conninfo, std::string query);

// `conninfo` with any password replaced by "***" (keyword form `password=...`, quoted or
// not, and URI `user:secret@` / `?password=`); exposed for tests.
std::string redact_conninfo(const std::string& conninfo);

// Parses the file format; exposed for tests.
std::vector<std::string> parse_inventory_lines(const std::string& text);

}  // namespace iota::io
