#include <fstream>
#include <sstream>
#include <thread>

#include "io/inventory.hpp"

namespace iota::io {

std::vector<std::string> parse_inventory_lines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string::npos)
      end = text.size();
    auto b = pos;
    auto e = end;
    while (b < e && (text[b] == ' ' || text[b] == '\t' || text[b] == '\r'))
      ++b;
    while (e > b && (text[e - 1] == ' ' || text[e - 1] == '\t' || text[e - 1] == '\r'))
      --e;
    if (e > b)
      out.emplace_back(text, b, e - b);
    pos = end + 1;
  }
  return out;
}

namespace {

class file_inventory : public inventory_source {
 public:
  explicit file_inventory(std::string path) : path_(std::move(path)) {}

  void load(std::function<void(inventory_result)> done) override {
    // A short-lived thread: reading a file blocks, and callers are actors.
    std::thread([path = path_, done = std::move(done)] {
      inventory_result r;
      std::ifstream in{path, std::ios::binary};
      if (!in) {
        r.error = "cannot read inventory file " + path;
      } else {
        std::ostringstream buf;
        buf << in.rdbuf();
        r.ids = parse_inventory_lines(buf.str());
        r.ok = true;
      }
      done(std::move(r));
    }).detach();
  }

  std::string describe() const override { return "file " + path_; }

 private:
  std::string path_;
};

}  // namespace

std::shared_ptr<inventory_source> make_file_inventory(std::string path) {
  return std::make_shared<file_inventory>(std::move(path));
}

}  // namespace iota::io
