#include "model/id_list.hpp"

#include <cstring>

#include "model/zk_layout.hpp"

namespace iota::model {

namespace {
constexpr char head[] = "{\"ids\":[";
constexpr std::size_t tail_size = 2;  // "]}"

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return c - 'A' + 10;
}

// Undoes append_json_string's escapes (the only ones these bytes hold).
void decode_into(std::string& out, std::string_view enc) {
  out.clear();
  for (std::size_t i = 0; i < enc.size(); ++i) {
    char c = enc[i];
    if (c != '\\' || i + 1 >= enc.size()) {
      out += c;
      continue;
    }
    switch (enc[++i]) {
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u':
        if (i + 4 < enc.size()) {
          out += static_cast<char>(hex_value(enc[i + 3]) * 16 + hex_value(enc[i + 4]));
          i += 4;
        }
        break;
      default: out += enc[i];  // '"' and '\\'
    }
  }
}
}  // namespace

id_list::id_list() : bytes_{std::string{head} + "]}"} {}

id_list::id_list(const std::vector<std::string>& ids) : id_list() {
  std::size_t size = 0;
  for (auto& id : ids)
    size += id.size() + 3;
  reserve(ids.size(), ids.empty() ? 0 : size / ids.size() + 1);
  for (auto& id : ids)
    push_back(id);
}

id_list::id_list(std::initializer_list<std::string_view> ids) : id_list() {
  for (auto id : ids)
    push_back(id);
}

void id_list::reserve(std::size_t ids, std::size_t bytes_per_id) {
  start_.reserve(ids);
  bytes_.reserve(sizeof head + tail_size + ids * bytes_per_id);
}

std::size_t id_list::slot_end(std::size_t pos) const {
  return pos + 1 < start_.size() ? start_[pos + 1] - 1 : bytes_.size() - tail_size;
}

std::string_view id_list::encoded(std::size_t pos) const {
  auto first = start_[pos] + 1;
  return std::string_view{bytes_}.substr(first, slot_end(pos) - 1 - first);
}

std::string_view id_list::view(std::size_t pos, std::string& scratch) const {
  auto enc = encoded(pos);
  if (enc.find('\\') == std::string_view::npos)
    return enc;
  decode_into(scratch, enc);
  return scratch;
}

std::string id_list::operator[](std::size_t pos) const {
  std::string scratch;
  return std::string{view(pos, scratch)};
}

bool id_list::equals(std::size_t pos, std::string_view id) const {
  std::string scratch;  // only filled for an id with something escaped
  return view(pos, scratch) == id;
}

void id_list::push_back(std::string_view id) {
  bytes_.resize(bytes_.size() - tail_size);
  if (!start_.empty())
    bytes_ += ',';
  start_.push_back(static_cast<std::uint32_t>(bytes_.size()));
  append_json_string(bytes_, id);
  bytes_ += "]}";
}

void id_list::remove_swap_last(std::size_t pos) {
  auto last = start_.size() - 1;
  if (pos != last) {
    auto len = slot_end(pos) - start_[pos];
    auto last_len = slot_end(last) - start_[last];
    if (len == last_len) {
      std::memcpy(&bytes_[start_[pos]], &bytes_[start_[last]], len);
    } else {  // ids of other lengths: splice, and shift what follows
      std::string moved = bytes_.substr(start_[last], last_len);
      bytes_.erase(start_[last] - 1, last_len + 1);  // with the comma before it
      start_.pop_back();
      bytes_.replace(start_[pos], len, moved);
      auto delta = static_cast<std::int64_t>(last_len) - static_cast<std::int64_t>(len);
      for (auto i = pos + 1; i < start_.size(); ++i)
        start_[i] = static_cast<std::uint32_t>(start_[i] + delta);
      return;
    }
  }
  auto cut = last == 0 ? start_[0] : start_[last] - 1;  // with the comma before it
  bytes_.erase(cut, slot_end(last) - cut);
  start_.pop_back();
}

std::vector<std::string> id_list::to_vector() const {
  std::vector<std::string> out;
  out.reserve(size());
  for (std::size_t i = 0; i < size(); ++i)
    out.push_back((*this)[i]);
  return out;
}

bool operator==(const id_list& a, const std::vector<std::string>& b) {
  if (a.size() != b.size())
    return false;
  for (std::size_t i = 0; i < b.size(); ++i)
    if (!a.equals(i, b[i]))
      return false;
  return true;
}

}  // namespace iota::model
