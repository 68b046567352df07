#pragma once
// Where a resource type's ids come from for orchestrate and reconcile: a file (one id per
// line) here, PostgreSQL later. Loading runs off the caller's thread; `done` runs on the
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

// Parses the file format; exposed for tests.
std::vector<std::string> parse_inventory_lines(const std::string& text);

}  // namespace iota::io
