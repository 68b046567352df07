#include "io/memory.hpp"

#include <malloc.h>

namespace iota::io {

void limit_allocator_arenas() {
  ::mallopt(M_ARENA_MAX, 2);
  // Blocks of 128 KB and more (an instance's 195 KB of ids, the multis that carry them) are
  // mapped and unmapped on their own. Left to glibc, the threshold rises to the largest block
  // freed, and those blocks then come from the heap, whose freed holes between small live
  // blocks stay with the process: a stream grew the daemon from 61 to 137 MB that way.
  ::mallopt(M_MMAP_THRESHOLD, 128 * 1024);
}

void return_free_memory() { ::malloc_trim(0); }

}  // namespace iota::io
