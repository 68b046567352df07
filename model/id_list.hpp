#pragma once
// An instance's resource ids, held once: as the bytes of its `resources` znode
// ({"ids":[...]}, SPEC 2) plus where each id starts in them. The write needs those bytes
// anyway, so they are the only copy (about 42 bytes a UUID, where a vector of strings and a
// string-keyed index held each id twice in ~216 bytes). A change costs what it changes: an
// appended id is appended; a removal (the model's swap-with-last) copies the last id over the
// removed one, in place when both encode to the same length (every UUID does). bytes() is
// exactly encode_resources(ids) at all times.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

namespace iota::model {

class id_list {
 public:
  id_list();
  id_list(const std::vector<std::string>& ids);  // NOLINT: implicit, as the vector it replaces
  id_list(std::initializer_list<std::string_view> ids);

  std::size_t size() const { return start_.size(); }
  bool empty() const { return start_.empty(); }
  void reserve(std::size_t ids, std::size_t bytes_per_id = 39);

  // The id at `pos`, decoded. view() avoids the copy: into the bytes when the id has nothing
  // escaped (a UUID never has), else into `scratch`; valid until either changes.
  std::string operator[](std::size_t pos) const;
  std::string_view view(std::size_t pos, std::string& scratch) const;
  bool equals(std::size_t pos, std::string_view id) const;

  void push_back(std::string_view id);
  // ids[pos] = ids.back(); ids.pop_back(), as the model removes.
  void remove_swap_last(std::size_t pos);

  // {"ids":[...]}: what the `resources` znode holds.
  const std::string& bytes() const { return bytes_; }
  std::vector<std::string> to_vector() const;

  // Iterates decoded copies (std::string by value); hot paths use view().
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = std::string;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = std::string;
    iterator(const id_list* list, std::size_t pos) : list_(list), pos_(pos) {}
    std::string operator*() const { return (*list_)[pos_]; }
    iterator& operator++() {
      ++pos_;
      return *this;
    }
    iterator operator++(int) {
      auto old = *this;
      ++pos_;
      return old;
    }
    friend bool operator==(const iterator& a, const iterator& b) { return a.pos_ == b.pos_; }
    friend bool operator!=(const iterator& a, const iterator& b) { return a.pos_ != b.pos_; }

   private:
    const id_list* list_;
    std::size_t pos_;
  };
  iterator begin() const { return {this, 0}; }
  iterator end() const { return {this, size()}; }

  friend bool operator==(const id_list& a, const id_list& b) { return a.bytes_ == b.bytes_; }
  friend bool operator!=(const id_list& a, const id_list& b) { return !(a == b); }
  friend bool operator==(const id_list& a, const std::vector<std::string>& b);

 private:
  // The id's encoded bytes between its quotes.
  std::string_view encoded(std::size_t pos) const;
  std::size_t slot_end(std::size_t pos) const;  // one past its closing quote
  std::string bytes_;
  std::vector<std::uint32_t> start_;  // each id's first byte (its opening quote)
};

}  // namespace iota::model
