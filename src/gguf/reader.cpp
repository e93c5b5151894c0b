// GGUF v2/v3 parser: turns untrusted bytes into a validated gguf::file. Every read is bounded
// by the bytes left, every count is checked against those bytes before anything is allocated,
// and every size computation is overflow-checked.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>
#include <system_error>
#include <unordered_map>

#include "gguf/gguf.h"
#include "gguf/mapping_guard.h"

namespace pocketlm::gguf {
namespace {

constexpr uint32_t k_magic = 0x46554747;          // "GGUF" read as little-endian u32
constexpr size_t k_header_bytes = 4 + 4 + 8 + 8;  // magic, version, n_tensors, n_kv
// Total metadata values (array elements included). Each parsed value costs ~50 bytes of RAM,
// so this bounds memory at a few hundred MB; the largest real vocabularies need ~1M.
constexpr uint64_t k_max_values = uint64_t{1} << 23;
// Smallest possible encodings, used to reject counts the remaining bytes cannot hold.
constexpr uint64_t k_min_kv_bytes = 8 + 1 + 4 + 1;               // key length, key, type, value
constexpr uint64_t k_min_tensor_info_bytes = 8 + 1 + 4 + 4 + 8;  // name, n_dims, type, offset
constexpr uint32_t k_last_value_type = static_cast<uint32_t>(value_type::f64);

template <typename... A>
std::string cat(const A&... parts) {
  std::ostringstream s;
  (s << ... << parts);
  return s.str();
}

// Names come from the file: escape anything that could break a one-line message.
std::string printable(std::string_view s) {
  constexpr size_t k_max_shown = 80;
  std::string out;
  for (size_t i = 0; i < s.size() && i < k_max_shown; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      static constexpr char k_hex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(k_hex[c >> 4]);
      out.push_back(k_hex[c & 15]);
    }
  }
  if (s.size() > k_max_shown) out += "...";
  return out;
}

std::string_view value_type_name(uint32_t t) { return type_name(static_cast<value_type>(t)); }

// Bytes one encoded element of type t needs at least (exact for fixed-size types).
uint64_t min_value_bytes(value_type t) {
  switch (t) {
    case value_type::u8:
    case value_type::i8:
    case value_type::boolean: return 1;
    case value_type::u16:
    case value_type::i16: return 2;
    case value_type::u32:
    case value_type::i32:
    case value_type::f32: return 4;
    case value_type::u64:
    case value_type::i64:
    case value_type::f64: return 8;
    case value_type::string: return 8;
    case value_type::array: return 12;
  }
  return 1;
}

}  // namespace

class parser {
 public:
  explicit parser(file& out) : out_(out), data_(out.data_), size_(out.size_) {}

  // Fills out_ from its bytes; on failure returns a message without the "gguf: " prefix.
  status run() {
    uint64_t n_tensors = 0, n_kv = 0;
    if (!parse_header(n_tensors, n_kv)) return error{err_};
    out_.kv_.reserve(n_kv);
    for (uint64_t i = 0; i < n_kv; ++i) {
      if (!parse_kv(i)) return error{err_};
    }
    ctx_.clear();
    if (!read_alignment()) return error{err_};
    if (!check_count(n_tensors, k_min_tensor_info_bytes, "n_tensors", "tensor info")) return error{err_};
    out_.tensors_.reserve(n_tensors);
    for (uint64_t i = 0; i < n_tensors; ++i) {
      if (!parse_tensor_info(i)) return error{err_};
    }
    if (!place_tensors()) return error{err_};
    return {};
  }

 private:
  file& out_;
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  uint64_t n_values_ = 0;
  std::string ctx_;  // "key #3 'x'" / "tensor 'y' (#2)": prefixes every message
  std::string err_;
  std::unordered_map<std::string, uint64_t> key_index_;
  std::unordered_map<std::string, uint64_t> tensor_index_;

  size_t left() const { return size_ - pos_; }

  bool fail(const std::string& msg) {
    err_ = ctx_.empty() ? msg : ctx_ + ": " + msg;
    return false;
  }

  template <typename T>
  bool read(T& v, std::string_view what) {
    if (left() < sizeof(T)) {
      return fail(
          cat("truncated: ", what, " needs ", sizeof(T), " bytes at offset ", pos_, " but only ", left(), " are left"));
    }
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }

  // A count of items, each needing at least `min_bytes`, must fit in the bytes left.
  bool check_count(uint64_t n, uint64_t min_bytes, const char* field, const char* item) {
    if (n <= left() / min_bytes) return true;
    return fail(cat(field, " ", n, " exceeds what the ", left(), " bytes left can hold (each ", item,
                    " needs >= ", min_bytes, " bytes)"));
  }

  bool read_string(std::string& s, uint64_t cap, std::string_view what) {
    uint64_t n = 0;
    if (!read(n, what)) return false;
    if (n > cap) return fail(cat(what, " ", n, " exceeds the limit of ", cap, " bytes"));
    if (n > left()) return fail(cat(what, " ", n, " exceeds the ", left(), " bytes left"));
    s.assign(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return true;
  }

  bool parse_header(uint64_t& n_tensors, uint64_t& n_kv) {
    uint32_t magic = 0, version = 0;
    if (size_ >= 4) std::memcpy(&magic, data_, 4);
    // Neither the bytes nor the size of a file that is not a GGUF are echoed: the path may
    // name any file (a server client's), and its first bytes are none of their business.
    if (size_ < 4 || magic != k_magic) {
      return fail("not a GGUF file (it does not start with the magic \"GGUF\")");
    }
    if (size_ < k_header_bytes) {
      return fail(cat("truncated header: file is ", size_, " bytes, the header needs ", k_header_bytes));
    }
    pos_ = 4;
    (void)read(version, "version");
    if (version == 1) {
      return fail("version 1 is not supported (GGUF v1 used 32-bit counts; need version 2 or 3)");
    }
    if (version != 2 && version != 3) {
      const bool swapped = version == 0x02000000 || version == 0x03000000;
      return fail(
          cat("version ", version, " is not supported (need 2 or 3)", swapped ? "; the file looks big-endian" : ""));
    }
    out_.version_ = version;
    (void)read(n_tensors, "n_tensors");
    (void)read(n_kv, "n_kv");
    return check_count(n_kv, k_min_kv_bytes, "n_kv", "key/value") &&
           check_count(n_tensors, k_min_tensor_info_bytes, "n_tensors", "tensor info");
  }

  bool parse_kv(uint64_t i) {
    ctx_ = cat("key #", i);
    key_value kv;
    if (!read_string(kv.key, k_max_key_bytes, "key length")) return false;
    if (kv.key.empty()) return fail("key is empty");
    ctx_ = cat("key #", i, " '", printable(kv.key), "'");
    const auto [it, inserted] = key_index_.emplace(kv.key, i);
    if (!inserted) return fail(cat("duplicate key (first defined as key #", it->second, ")"));
    uint32_t type = 0;
    if (!read(type, "value type")) return false;
    if (!read_value(type, kv.val, 0)) return false;
    out_.kv_.push_back(std::move(kv));
    return true;
  }

  bool read_value(uint32_t type_id, value& v, int depth) {
    if (type_id > k_last_value_type) {
      return fail(cat("unknown value type id ", type_id, " (valid: 0..", k_last_value_type, ")"));
    }
    if (++n_values_ > k_max_values) {
      return fail(cat("more than ", k_max_values, " metadata values in the file"));
    }
    v.type = static_cast<value_type>(type_id);
    switch (v.type) {
      case value_type::u8: return read_as<uint8_t, uint64_t>(v);
      case value_type::i8: return read_as<int8_t, int64_t>(v);
      case value_type::u16: return read_as<uint16_t, uint64_t>(v);
      case value_type::i16: return read_as<int16_t, int64_t>(v);
      case value_type::u32: return read_as<uint32_t, uint64_t>(v);
      case value_type::i32: return read_as<int32_t, int64_t>(v);
      case value_type::u64: return read_as<uint64_t, uint64_t>(v);
      case value_type::i64: return read_as<int64_t, int64_t>(v);
      case value_type::f32: return read_as<float, double>(v);
      case value_type::f64: return read_as<double, double>(v);
      case value_type::boolean: return read_bool(v);
      case value_type::string: {
        std::string s;
        if (!read_string(s, UINT64_MAX, "string length")) return false;  // bounded by bytes left
        v.data = std::move(s);
        return true;
      }
      case value_type::array: return read_array(v, depth + 1);
    }
    return false;  // unreachable: type_id was range-checked above
  }

  template <typename Raw, typename Stored>
  bool read_as(value& v) {
    Raw raw{};
    if (!read(raw, value_type_name(static_cast<uint32_t>(v.type)))) return false;
    v.data = static_cast<Stored>(raw);
    return true;
  }

  bool read_bool(value& v) {
    uint8_t b = 0;
    if (!read(b, "bool")) return false;
    if (b > 1) return fail(cat("bool byte ", unsigned{b}, " at offset ", pos_ - 1, " is not 0 or 1"));
    v.data = b == 1;
    return true;
  }

  bool read_array(value& v, int depth) {
    if (depth > k_max_array_depth) {
      return fail(cat("arrays nested deeper than ", k_max_array_depth, " levels"));
    }
    array_value arr;
    uint32_t elem = 0;
    uint64_t n = 0;
    if (!read(elem, "array element type")) return false;
    if (elem > k_last_value_type) {
      return fail(cat("unknown array element type id ", elem, " (valid: 0..", k_last_value_type, ")"));
    }
    arr.elem_type = static_cast<value_type>(elem);
    if (!read(n, "array length")) return false;
    const uint64_t min_bytes = min_value_bytes(arr.elem_type);
    if (n > left() / min_bytes) {
      return fail(cat("array length ", n, " of ", value_type_name(elem), " exceeds the ", left(),
                      " bytes left (each element needs >= ", min_bytes, ")"));
    }
    if (n > k_max_values - n_values_) {
      return fail(cat("array length ", n, " would exceed the limit of ", k_max_values, " metadata values in the file"));
    }
    arr.items.resize(n);
    for (auto& item : arr.items) {
      if (!read_value(elem, item, depth)) return false;
    }
    v.data = std::move(arr);
    return true;
  }

  bool read_alignment() {
    const value* a = out_.find("general.alignment");
    if (a == nullptr) return true;  // default 32
    if (a->type != value_type::u32) {
      return fail(cat("general.alignment has type ", value_type_name(static_cast<uint32_t>(a->type)), ", must be u32"));
    }
    const uint64_t v = std::get<uint64_t>(a->data);
    if (v == 0 || (v & (v - 1)) != 0) {
      return fail(cat("general.alignment ", v, " is not a nonzero power of two"));
    }
    out_.alignment_ = v;
    return true;
  }

  bool parse_tensor_info(uint64_t i) {
    ctx_ = cat("tensor #", i);
    tensor_info t;
    if (!read_string(t.name, k_max_tensor_name_bytes, "name length")) return false;
    if (t.name.empty()) return fail("name is empty");
    ctx_ = cat("tensor '", printable(t.name), "' (#", i, ")");
    const auto [it, inserted] = tensor_index_.emplace(t.name, i);
    if (!inserted) return fail(cat("duplicate tensor name (also tensor #", it->second, ")"));
    if (!read(t.n_dims, "n_dims")) return false;
    if (t.n_dims > k_max_dims) {
      return fail(cat("n_dims ", t.n_dims, " is out of range [0, ", k_max_dims, "]"));
    }
    for (uint32_t d = 0; d < t.n_dims; ++d) {
      if (!read(t.ne[d], "dimension")) return false;
      if (t.ne[d] < 1) return fail(cat("ne[", d, "] = ", t.ne[d], " must be >= 1"));
    }
    uint32_t type_id = 0;
    if (!read(type_id, "type")) return false;
    const ggml_type_traits tr = type_traits(type_id);
    if (tr.block_size == 0) return fail(cat("unknown tensor type id ", type_id));
    t.type = static_cast<ggml_type>(type_id);
    if (!size_tensor(t, tr)) return false;
    if (!read(t.offset, "offset")) return false;
    out_.tensors_.push_back(std::move(t));
    return true;
  }

  // Sets t.n_bytes; rejects shapes whose element or byte count overflows.
  bool size_tensor(tensor_info& t, const ggml_type_traits& tr) {
    const auto& ne = t.ne;
    if (ne[0] % tr.block_size != 0) {
      return fail(cat("ne[0] = ", ne[0], " is not a multiple of the ", tr.name, " block size ", tr.block_size));
    }
    int64_t n = 1;
    for (int64_t d : ne) {
      if (__builtin_mul_overflow(n, d, &n)) {
        return fail(cat("element count of shape [", ne[0], ", ", ne[1], ", ", ne[2], ", ", ne[3], "] overflows int64"));
      }
    }
    // rows * blocks-per-row * bytes-per-block; rows and blocks fit (their product n does).
    const uint64_t rows = static_cast<uint64_t>(n / ne[0]);
    const uint64_t blocks = static_cast<uint64_t>(ne[0] / tr.block_size);
    uint64_t bytes = 0;
    if (__builtin_mul_overflow(rows * blocks, uint64_t{tr.type_size}, &bytes) || bytes > SIZE_MAX) {
      return fail(cat("byte size of ", n, " ", tr.name, " elements overflows"));
    }
    t.n_bytes = bytes;
    return true;
  }

  // Data section starts at the header end rounded up to the alignment; every tensor must be
  // aligned and lie inside the file.
  bool place_tensors() {
    const uint64_t align = out_.alignment_;
    uint64_t start = 0;
    if (__builtin_add_overflow(uint64_t{pos_}, align - 1, &start)) {
      return fail("data section start overflows");
    }
    start &= ~(align - 1);
    // With no tensors the padding may be absent; never point past the end.
    out_.data_offset_ = start < size_ ? start : size_;
    for (size_t i = 0; i < out_.tensors_.size(); ++i) {
      const tensor_info& t = out_.tensors_[i];
      ctx_ = cat("tensor '", printable(t.name), "' (#", i, ")");
      if (t.offset % align != 0) {
        return fail(cat("offset ", t.offset, " is not a multiple of the alignment ", align));
      }
      uint64_t begin = 0, end = 0;
      if (__builtin_add_overflow(start, t.offset, &begin) || __builtin_add_overflow(begin, t.n_bytes, &end)) {
        return fail(cat("data offset ", start, " + ", t.offset, " + size ", t.n_bytes, " overflows"));
      }
      if (end > size_) {
        return fail(cat("data [", begin, ", ", end, ") lies outside the file (", size_, " bytes)"));
      }
    }
    return true;
  }
};

result<std::unique_ptr<file>> file::parse(const uint8_t* data, size_t size) {
  std::unique_ptr<file> f(new file());
  f->data_ = data;
  f->size_ = data == nullptr ? 0 : size;
  const status s = parser(*f).run();
  if (!s) return error{"gguf: " + s.error_message(), error_kind::invalid_input};
  return f;
}

result<std::unique_ptr<file>> file::open(const std::string& path) {
  const auto os_error = [&](const char* what) {
    return error{cat("gguf: ", what, " ", path, ": ", std::generic_category().message(errno)), error_kind::io};
  };
  struct stat st {};
  auto opened = open_regular_file(path, &st);  // never blocks on a FIFO, refuses non-files
  if (!opened) return error{"gguf: " + opened.error_message(), opened.kind()};
  const int fd = *opened;
  std::unique_ptr<file> f(new file());
  f->size_ = static_cast<size_t>(st.st_size);
  if (f->size_ > 0) {
    void* p = ::mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const auto e = os_error("cannot mmap");
      ::close(fd);
      return e;
    }
    f->mapping_ = p;
    f->guard_ = mapping_guard::watch(p, f->size_);
    f->data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);  // the mapping stays valid
  const status s = parser(*f).run();
  if (!s) return error{cat("gguf: ", path, ": ", s.error_message()), error_kind::invalid_input};
  return f;
}

file::~file() {
  mapping_guard::forget(guard_);
  if (mapping_ != nullptr) ::munmap(mapping_, size_);
}

bool file::damaged() const { return mapping_guard::damaged(guard_); }

}  // namespace pocketlm::gguf
