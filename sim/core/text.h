// Small text helpers shared by option and list parsers.
#pragma once

#include <string_view>
#include <vector>

namespace hvsim {

// The pieces of `text` between `sep` characters, in order, empty pieces included ("a,,b" gives
// "a", "", "b"; "" gives one empty piece). The views point into `text`.
inline std::vector<std::string_view> split_list(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  for (size_t start = 0;;) {
    size_t end = text.find(sep, start);
    out.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

}  // namespace hvsim
