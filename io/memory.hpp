#pragma once
// The process's memory, as the allocator holds it.

namespace iota::io {

// Called once per process, first: caps the allocator's per-thread arenas at two (glibc makes up
// to eight per core, and each keeps the memory its thread freed: the daemon's ZooKeeper, MQTT
// and actor threads each held tens of MB of freed blocks after an orchestrate), and fixes the
// size from which blocks are mapped on their own (see memory.cpp).
void limit_allocator_arenas();

// Gives the pages of freed memory back to the system (after a large transient use such as an
// orchestrate of 400,000 ids, whose inventory and plan are freed once it is durable).
void return_free_memory();

}  // namespace iota::io
