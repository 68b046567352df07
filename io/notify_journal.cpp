#include "io/notify_journal.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

#include "io/files.hpp"
#include "io/log.hpp"

namespace iota::io {

namespace {

constexpr std::size_t header_size = 16;  // u32 length, u32 crc, u64 seq

std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k)
      c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}

void put_u32(char* p, std::uint32_t v) { std::memcpy(p, &v, 4); }
void put_u64(char* p, std::uint64_t v) { std::memcpy(p, &v, 8); }
std::uint32_t get_u32(const char* p) { std::uint32_t v; std::memcpy(&v, p, 4); return v; }
std::uint64_t get_u64(const char* p) { std::uint64_t v; std::memcpy(&v, p, 8); return v; }

std::string errno_text() { return std::strerror(errno); }

void make_dirs(const std::string& dir) {
  std::string partial;
  std::stringstream ss{dir};
  std::string part;
  if (!dir.empty() && dir[0] == '/')
    partial = "/";
  while (std::getline(ss, part, '/')) {
    if (part.empty())
      continue;
    partial += part + "/";
    if (::mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST)
      throw std::runtime_error("journal: cannot create " + partial + ": " + errno_text());
  }
}


std::string segment_name(std::uint64_t first_seq) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020llu.seg", static_cast<unsigned long long>(first_seq));
  return buf;
}

bool write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    auto n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

std::uint32_t crc32(const void* data, std::size_t size, std::uint32_t crc) {
  static const auto table = make_crc_table();
  auto p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  for (std::size_t i = 0; i < size; ++i)
    crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

notify_journal::notify_journal(journal_settings settings, std::vector<journal_record>& pending)
    : settings_(std::move(settings)) {
  make_dirs(settings_.dir);
  auto mark = read_file(settings_.dir + "/committed").value_or("");
  if (!mark.empty())
    committed_ = std::strtoull(mark.c_str(), nullptr, 10);
  persisted_ = committed_;

  if (auto* d = ::opendir(settings_.dir.c_str())) {
    while (auto* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name.size() == 24 && name.compare(20, 4, ".seg") == 0)
        segments_.emplace_back(std::strtoull(name.c_str(), nullptr, 10), settings_.dir + "/" + name);
    }
    ::closedir(d);
  }
  std::sort(segments_.begin(), segments_.end());

  std::uint64_t prev = 0;  // sequence numbers only grow: anything else is damage
  for (auto& [first, path] : segments_) {
    auto bytes = read_file(path).value_or("");
    std::size_t pos = 0;
    while (pos + header_size <= bytes.size()) {
      auto len = get_u32(bytes.data() + pos);
      auto crc = get_u32(bytes.data() + pos + 4);
      auto seq = get_u64(bytes.data() + pos + 8);
      if (pos + header_size + len > bytes.size())
        break;
      if (crc32(bytes.data() + pos + 8, 8 + len) != crc || seq <= prev)
        break;
      if (seq > committed_)
        pending.push_back(journal_record{seq, bytes.substr(pos + header_size, len)});
      prev = seq;
      pos += header_size + len;
    }
    if (pos != bytes.size()) {
      log::warn("journal", "cutting a torn tail of " + std::to_string(bytes.size() - pos) +
                             " bytes from " + path);
      if (::truncate(path.c_str(), static_cast<off_t>(pos)) != 0)
        throw std::runtime_error("journal: cannot truncate " + path + ": " + errno_text());
    }
  }
  next_seq_ = std::max<std::uint64_t>(prev, committed_) + 1;
  if (!segments_.empty()) {
    struct stat st{};
    auto& path = segments_.back().second;
    if (::stat(path.c_str(), &st) == 0 && static_cast<std::size_t>(st.st_size) < settings_.segment_bytes) {
      fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
      segment_size_ = static_cast<std::size_t>(st.st_size);
    }
  }
  if (fd_ < 0)
    open_segment(next_seq_);
  mark_thread_ = std::thread([this] { mark_loop(); });
}

notify_journal::~notify_journal() {
  {
    std::lock_guard<std::mutex> g{mark_mutex_};
    stopping_ = true;
  }
  mark_cv_.notify_all();
  if (mark_thread_.joinable())
    mark_thread_.join();
  if (fd_ >= 0)
    ::close(fd_);
}

void notify_journal::open_segment(std::uint64_t first_seq) {
  if (fd_ >= 0)
    ::close(fd_);
  auto path = settings_.dir + "/" + segment_name(first_seq);
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw std::runtime_error("journal: cannot open " + path + ": " + errno_text());
  segment_size_ = 0;
  segments_.emplace_back(first_seq, path);
}

std::uint64_t notify_journal::append(const std::string& payload) {
  std::lock_guard<std::mutex> g{append_mutex_};
  if (segment_size_ >= settings_.segment_bytes)
    open_segment(next_seq_);
  auto seq = next_seq_;
  std::string rec(header_size + payload.size(), '\0');
  put_u32(rec.data(), static_cast<std::uint32_t>(payload.size()));
  put_u64(rec.data() + 8, seq);
  std::memcpy(rec.data() + header_size, payload.data(), payload.size());
  put_u32(rec.data() + 4, crc32(rec.data() + 8, 8 + payload.size()));
  if (!write_all(fd_, rec.data(), rec.size()))
    throw std::runtime_error("journal: write failed: " + errno_text());
  if (settings_.sync && ::fdatasync(fd_) != 0)
    throw std::runtime_error("journal: fdatasync failed: " + errno_text());
  segment_size_ += rec.size();
  ++next_seq_;
  return seq;
}

void notify_journal::commit(std::uint64_t seq) {
  auto cur = committed_.load();
  while (seq > cur && !committed_.compare_exchange_weak(cur, seq)) {
  }
}

std::uint64_t notify_journal::last_seq() const {
  std::lock_guard<std::mutex> g{append_mutex_};
  return next_seq_ - 1;
}

void notify_journal::mark_loop() {
  std::unique_lock<std::mutex> lk{mark_mutex_};
  for (;;) {
    mark_cv_.wait_for(lk, settings_.mark_interval, [this] { return stopping_; });
    auto c = committed_.load();
    if (c != persisted_) {
      persist_mark(c);
      drop_segments_below(c);
    }
    if (stopping_)
      return;
  }
}

void notify_journal::persist_mark(std::uint64_t seq) {
  // Replaced whole (write beside, rename), so a crash leaves the old mark or the new one.
  if (!write_file_atomically(settings_.dir + "/committed", std::to_string(seq), settings_.sync))
    log::error("journal", "cannot replace the commit mark: " + errno_text());
}

void notify_journal::drop_segments_below(std::uint64_t seq) {
  std::lock_guard<std::mutex> g{append_mutex_};
  // A segment is done when the next one starts at or below seq + 1; the current one stays.
  while (segments_.size() > 1 && segments_[1].first <= seq + 1) {
    ::unlink(segments_.front().second.c_str());
    segments_.erase(segments_.begin());
  }
}

}  // namespace iota::io
