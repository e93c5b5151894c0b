// Finds GGUF tensors by name and checks their shape and type, remembering the first problem
// ("missing tensor 'x'", "tensor 'x' has wrong shape: expected [..], got [..]") for the loader
// of each architecture family (model/weights.cpp, model/encoder.cpp).
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"
#include "tensor/quant.h"

namespace pocketlm {

namespace tensor_loader_detail {
inline std::string shape_str(const std::vector<int64_t>& ne) {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

inline std::string shape_str(const gguf::tensor_info& t) {
  return shape_str(std::vector<int64_t>(t.ne.begin(), t.ne.begin() + t.n_dims));
}
}  // namespace tensor_loader_detail

// Looks up `name` and checks its shape; nullopt result with `err` set when absent or wrong.
class tensor_loader {
 public:
  explicit tensor_loader(const gguf::file& f) : f_(f) {}

  const gguf::tensor_info* find(const std::string& name, const std::vector<int64_t>& ne, bool required) {
    const gguf::tensor_info* t = f_.find_tensor(name);
    if (t == nullptr) {
      if (required && err_.ok()) err_ = error{"model: missing tensor '" + name + "'"};
      return nullptr;
    }
    bool same = t->n_dims == ne.size();
    for (size_t i = 0; same && i < ne.size(); ++i) same = t->ne[i] == ne[i];
    if (!same && err_.ok()) {
      err_ = error{"model: tensor '" + name + "' has wrong shape: expected " + tensor_loader_detail::shape_str(ne) +
                   ", got " + tensor_loader_detail::shape_str(*t)};
    }
    return same ? t : nullptr;
  }

  kernels::matrix_view matrix(const std::string& name, int64_t n_cols, int64_t n_rows, bool required = true) {
    const gguf::tensor_info* t = find(name, {n_cols, n_rows}, required);
    if (t == nullptr) return {};
    if (!is_supported_weight_type(t->type) && err_.ok()) {
      err_ = error{"model: tensor '" + name + "' has unsupported type " + std::string(type_traits(t->type).name)};
      return {};
    }
    return {t->type, n_cols, n_rows, f_.tensor_data(*t), row_size(t->type, n_cols)};
  }

  std::vector<float> vector(const std::string& name, int64_t n, bool required = true) {
    const gguf::tensor_info* t = find(name, {n}, required);
    if (t == nullptr) return {};
    if (!is_supported_weight_type(t->type) && err_.ok()) {
      err_ = error{"model: tensor '" + name + "' has unsupported type " + std::string(type_traits(t->type).name)};
      return {};
    }
    std::vector<float> out(static_cast<size_t>(n));
    dequantize_row(t->type, f_.tensor_data(*t), out.data(), n);
    return out;
  }

  // A small 2-D tensor decoded to f32, rows after each other (lfm2's convolution taps).
  std::vector<float> rows(const std::string& name, int64_t n_cols, int64_t n_rows) {
    const gguf::tensor_info* t = find(name, {n_cols, n_rows}, true);
    if (t == nullptr) return {};
    if (!is_supported_weight_type(t->type) && err_.ok()) {
      err_ = error{"model: tensor '" + name + "' has unsupported type " + std::string(type_traits(t->type).name)};
      return {};
    }
    std::vector<float> out(static_cast<size_t>(n_cols * n_rows));
    const size_t row_bytes = row_size(t->type, n_cols);
    for (int64_t r = 0; r < n_rows; ++r) {
      dequantize_row(t->type, f_.tensor_data(*t) + r * row_bytes, out.data() + r * n_cols, n_cols);
    }
    return out;
  }

  const status& err() const { return err_; }  // the first problem found

 private:
  const gguf::file& f_;
  status err_;
};

}  // namespace pocketlm
