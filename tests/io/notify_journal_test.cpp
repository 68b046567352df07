#include <catch2/catch.hpp>

#include <dirent.h>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

#include "io/notify_journal.hpp"
#include "tests/fixtures/process.hpp"

using namespace iota;

namespace {

io::journal_settings in(const test::temp_dir& d) {
  io::journal_settings s;
  s.dir = d.path() + "/journal";
  s.mark_interval = std::chrono::milliseconds{5};
  return s;
}

std::size_t segment_count(const std::string& dir) {
  std::size_t n = 0;
  if (auto* d = ::opendir(dir.c_str())) {
    while (auto* e = ::readdir(d))
      n += std::string{e->d_name}.find(".seg") != std::string::npos;
    ::closedir(d);
  }
  return n;
}

}  // namespace

TEST_CASE("appended records come back after a restart until committed", "[journal]") {
  test::temp_dir d;
  std::vector<io::journal_record> pending;
  {
    io::notify_journal j{in(d), pending};
    CHECK(pending.empty());
    CHECK(j.append("a") == 1);
    CHECK(j.append(std::string("b\0c", 3)) == 2);
    CHECK(j.append("") == 3);
  }  // as if killed: nothing committed
  {
    io::notify_journal j{in(d), pending};
    REQUIRE(pending.size() == 3);
    CHECK(pending[0].seq == 1);
    CHECK(pending[0].payload == "a");
    CHECK(pending[1].payload == std::string("b\0c", 3));
    CHECK(pending[2].payload.empty());
    CHECK(j.append("d") == 4);  // sequence numbers carry on
    j.commit(2);
  }
  pending.clear();
  io::notify_journal j{in(d), pending};
  REQUIRE(pending.size() == 2);
  CHECK(pending[0].seq == 3);
  CHECK(pending[1].payload == "d");
  CHECK(j.committed() == 2);
}

TEST_CASE("commit never moves backwards", "[journal]") {
  test::temp_dir d;
  std::vector<io::journal_record> pending;
  io::notify_journal j{in(d), pending};
  for (int i = 0; i < 5; ++i)
    j.append("x");
  j.commit(4);
  j.commit(2);
  CHECK(j.committed() == 4);
}

TEST_CASE("a torn tail is cut and what precedes it survives", "[journal]") {
  test::temp_dir d;
  std::vector<io::journal_record> pending;
  std::string seg;
  {
    io::notify_journal j{in(d), pending};
    j.append("first");
    j.append("second");
    seg = in(d).dir + "/00000000000000000001.seg";
  }
  {
    std::ofstream out{seg, std::ios::binary | std::ios::app};
    out.write("\x20\0\0\0garbage", 11);  // a header promising 32 bytes, cut short
  }
  {
    io::notify_journal j{in(d), pending};
    REQUIRE(pending.size() == 2);
    CHECK(pending[1].payload == "second");
    CHECK(j.append("third") == 3);
  }
  pending.clear();
  io::notify_journal j{in(d), pending};
  REQUIRE(pending.size() == 3);
  CHECK(pending[2].payload == "third");
}

TEST_CASE("a flipped byte ends the readable journal at that record", "[journal]") {
  test::temp_dir d;
  std::vector<io::journal_record> pending;
  {
    io::notify_journal j{in(d), pending};
    j.append("one");
    j.append("two");
  }
  auto seg = in(d).dir + "/00000000000000000001.seg";
  {
    std::fstream f{seg, std::ios::binary | std::ios::in | std::ios::out};
    f.seekp(16 + 3 + 16 + 1);  // inside the second payload
    f.put('X');
  }
  io::notify_journal j{in(d), pending};
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].payload == "one");
}

TEST_CASE("segments roll over and committed ones are deleted", "[journal]") {
  test::temp_dir d;
  auto s = in(d);
  s.segment_bytes = 1024;
  std::vector<io::journal_record> pending;
  {
    io::notify_journal j{s, pending};
    std::string payload(100, 'p');
    for (int i = 0; i < 100; ++i)
      j.append(payload);
    CHECK(segment_count(s.dir) > 5);
    j.commit(100);
    REQUIRE(test::wait_until([&] { return segment_count(s.dir) == 1; }, std::chrono::seconds{30}));
  }
  io::notify_journal j{s, pending};
  CHECK(pending.empty());
  CHECK(j.append("next") == 101);
}

TEST_CASE("an unusable directory is a clear error", "[journal]") {
  std::vector<io::journal_record> pending;
  io::journal_settings s;
  s.dir = "/proc/iota-no-such/journal";
  CHECK_THROWS_WITH(io::notify_journal(s, pending), Catch::Contains("journal: cannot create"));
}
