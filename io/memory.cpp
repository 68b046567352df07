#include "io/memory.hpp"

#include <malloc.h>

namespace iota::io {

void limit_allocator_arenas() { ::mallopt(M_ARENA_MAX, 2); }

void return_free_memory() { ::malloc_trim(0); }

}  // namespace iota::io
