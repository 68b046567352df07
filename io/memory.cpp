#include "io/memory.hpp"

#include <malloc.h>

namespace iota::io {

void limit_allocator_arenas() {
  ::mallopt(M_ARENA_MAX, 2);
  // A fixed threshold: blocks under 4 MB (an instance's 195 KB of ids, the rendered multis that
  // copy them, the ZooKeeper client's buffers) come from the heap and are reused batch after
  // batch. Left to glibc, the threshold moves with the largest block freed, and the heap's
  // holes grew a stream's daemon from 61 to 137 MB; at 128 KB every such block was mapped
  // afresh, and its page faults made rendering a batch take 30-260 ms instead of ~10-40.
  ::mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
}

void return_free_memory() { ::malloc_trim(0); }

}  // namespace iota::io
