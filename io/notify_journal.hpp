#pragma once
// The notify journal: every notify taken from the broker is appended here before the broker
// is acknowledged, and the position up to which every notify is durable in ZooKeeper is
// recorded beside it. On start, what lies past that position is replayed. So a notify is
// never lost when the daemon is killed, restarted or slow (SPEC section 9).
//
// Records: [u32 payload length][u32 crc32 of seq+payload][u64 seq][payload], in segment files
// `<first seq, 20 digits>.seg`. The commit mark is the file `committed` (a decimal seq),
// replaced atomically (write + rename) by a background thread at most every `mark_interval`.
// Appends are write(2) calls: they survive the daemon's death (kill -9); with `sync` they are
// fsync'd too and survive the machine's.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace iota::io {

struct journal_settings {
  std::string dir;                                    // created if missing
  std::size_t segment_bytes = 64 * 1024 * 1024;       // a new segment past this size
  bool sync = false;                                  // fsync every append
  // How stale the durable mark on disk may be: what a restart replays again (harmlessly), and
  // what the broker bench adds to each latency it reads from the file.
  std::chrono::milliseconds mark_interval{10};
};

struct journal_record {
  std::uint64_t seq = 0;
  std::string payload;
};

class notify_journal {
 public:
  // Opens the journal: reads the commit mark, scans the segments, cuts a torn tail (a record
  // cut short by a crash), and returns what lies past the mark in `pending`. Throws
  // std::runtime_error when the directory cannot be used.
  notify_journal(journal_settings settings, std::vector<journal_record>& pending);
  ~notify_journal();  // writes the final mark, joins the mark thread
  notify_journal(const notify_journal&) = delete;
  notify_journal& operator=(const notify_journal&) = delete;

  // Appends one payload and returns its sequence number (thread-safe; blocking file I/O:
  // call it from the MQTT client's thread, never an actor's). Throws on a write error.
  std::uint64_t append(const std::string& payload);

  // Everything up to and including `seq` is durable downstream. Cheap (an atomic store);
  // the mark thread persists it and drops segments entirely below it.
  void commit(std::uint64_t seq);

  std::uint64_t committed() const { return committed_.load(); }
  std::uint64_t last_seq() const;
  const std::string& dir() const { return settings_.dir; }

 private:
  void open_segment(std::uint64_t first_seq);
  void mark_loop();
  void persist_mark(std::uint64_t seq);
  void drop_segments_below(std::uint64_t seq);

  journal_settings settings_;
  mutable std::mutex append_mutex_;
  int fd_ = -1;
  std::size_t segment_size_ = 0;
  std::uint64_t next_seq_ = 1;
  std::vector<std::pair<std::uint64_t, std::string>> segments_;  // first seq, path
  std::atomic<std::uint64_t> committed_{0};
  std::uint64_t persisted_ = 0;
  std::mutex mark_mutex_;
  std::condition_variable mark_cv_;
  bool stopping_ = false;
  std::thread mark_thread_;
};

std::uint32_t crc32(const void* data, std::size_t size, std::uint32_t crc = 0);

}  // namespace iota::io
