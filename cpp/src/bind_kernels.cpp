// Bindings of the shard kernels: one-pass statistics, fused loss+gradient and
// a finiteness scan. They work on any block of rows, which is how the Dask
// backend runs them on one chunk per task.
#include "bindings.hpp"

#include <cmath>
#include <string>

#include "fastcost/block_tree.hpp"
#include "fastcost/data_pass.hpp"
#include "fastcost/gram.hpp"
#include "fastcost/grouped_gram.hpp"
#include "fastcost/loss_grad.hpp"
#include "fastcost/preprocess.hpp"
#include "fastcost/solvers.hpp"

namespace fastcost::bindings {

namespace {

template <class T>
py::dict gram_stats_impl(const py::object& X, const py::object& y, const py::object& sw, const py::object& shift,
                         index_t n_shards, int n_threads) {
  std::vector<const T*> columns;
  const MatrixView<T> Xv = x_view<T>(X, columns);
  const T* w = vector_ptr<T>(sw, Xv.rows, "sample_weight");
  const MatrixView<T> Y = targets_view<T>(y, Xv.rows);
  const std::vector<double> sh = optional_shift(shift, Xv.cols, Y.cols);
  const int threads = resolve_threads(n_threads);
  return gram_stats_dict(run_released([&] {
    return compute_gram_stats<T>(Xv, Y, w, sh.empty() ? nullptr : sh.data(), n_shards, threads);
  }));
}

// groups: an integer array of X's rows, each in [0, n_groups) or -1 (no group).
template <class T>
py::dict grouped_gram_stats_impl(const py::array& X, const py::object& y, const py::object& sw,
                                 const py::array& groups, index_t n_groups, const py::object& shift,
                                 index_t n_shards, int n_threads) {
  const RowsArgs<T> a = rows_args<T>(X, py::none(), sw);
  const MatrixView<T> Y = targets_view<T>(y, a.X.rows);
  const std::vector<double> sh = optional_shift(shift, a.X.cols, Y.cols);
  const char kind = groups.dtype().kind();
  if (groups.ndim() != 1 || (kind != 'i' && kind != 'u')) {
    throw py::type_error("groups must be a 1-D integer array (one group per row, -1 for none)");
  }
  const auto g = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(groups);
  if (g.shape(0) != a.X.rows) {
    throw py::value_error("groups has " + std::to_string(g.shape(0)) + " entries, expected " +
                          std::to_string(a.X.rows) + " (X's rows)");
  }
  const int threads = resolve_threads(n_threads);
  const GroupedGramStats st = run_released([&] {
    return compute_grouped_gram_stats<T>(a.X, Y, a.sw, g.data(), n_groups, sh.empty() ? nullptr : sh.data(),
                                         n_shards, threads);
  });
  const index_t da = st.dim();
  py::array_t<double> grams({static_cast<py::ssize_t>(st.n_groups), static_cast<py::ssize_t>(da),
                             static_cast<py::ssize_t>(da)});
  std::copy(st.grams.begin(), st.grams.end(), grams.mutable_data());
  py::array_t<std::int64_t> counts(static_cast<py::ssize_t>(st.n_groups));
  std::copy(st.counts.begin(), st.counts.end(), counts.mutable_data());
  py::dict out;
  out["gram"] = grams;
  out["shift"] = vector_array(st.shift);
  out["counts"] = counts;
  out["n_shards"] = st.n_shards;
  out["n_targets"] = st.n_targets;
  return out;
}

template <class T>
py::tuple loss_grad_impl(const py::array& X, const py::object& y, const py::object& w, double b, const py::object& sw,
                         index_t n_shards, int n_threads) {
  const RowsArgs<T> a = rows_args<T>(X, y, sw);
  const std::vector<double> wv = double_vector(w, a.X.cols, "w");
  const int threads = resolve_threads(n_threads);
  const LossGradSums s =
      run_released([&] { return loss_grad_sums<T>(a.X, a.y, a.sw, wv.data(), b, n_shards, threads); });
  return loss_grad_tuple(s);
}

// probes: a sequence of (w or None, b, with_y) for u = X w + b - (y if with_y).
template <class T>
py::dict probe_sums_impl(const py::array& X, const py::object& y, const py::sequence& probes, const py::object& sw,
                         index_t n_shards, int n_threads) {
  const RowsArgs<T> a = rows_args<T>(X, y, sw);
  const ProbeList p = probe_list(probes, a.X.cols, a.y != nullptr);
  const int threads = resolve_threads(n_threads);
  const ProbeSums s = run_released([&] { return probe_sums<T>(a.X, a.y, a.sw, p.list, n_shards, threads); });
  return probe_sums_dict(s, p.list.size(), a.X.cols);
}

// A BlockTree (block_tree.hpp) as a dict: levels and starts (int64, one per
// node), values (nodes x width float64).
py::dict nodes_dict(const BlockTree& t) {
  py::dict out;
  const auto m = static_cast<py::ssize_t>(t.size());
  py::array_t<std::int64_t> levels(m), starts(m);
  py::array_t<double> values({m, static_cast<py::ssize_t>(t.width())});
  for (index_t i = 0; i < t.size(); ++i) {
    levels.mutable_at(i) = t.level(i);
    starts.mutable_at(i) = t.start(i);
    std::copy(t.values(i), t.values(i) + t.width(), values.mutable_data() + i * t.width());
  }
  out["levels"] = levels;
  out["starts"] = starts;
  out["values"] = values;
  return out;
}

// The merge of block sums of a kind: "sum" (probe_nodes, totals_nodes) or
// "moments" (moments_nodes).
MergeFn merge_of(const std::string& kind) {
  if (kind == "sum") return add_values;
  if (kind == "moments") return merge_moments;
  throw py::value_error("kind must be 'sum' or 'moments', got '" + kind + "'");
}

// nodes_dict's inverse, checked (a malformed dict is a ValueError).
BlockTree tree_from(const py::handle& nodes, MergeFn merge = add_values) {
  if (!py::isinstance<py::dict>(nodes)) throw py::type_error("block sums must be a dict of levels, starts, values");
  const auto d = py::reinterpret_borrow<py::dict>(nodes);
  for (const char* key : {"levels", "starts"}) {
    const py::object a = d[key];
    if (!py::isinstance<py::array>(a) || py::reinterpret_borrow<py::array>(a).dtype().kind() != 'i') {
      throw py::type_error(std::string("block sums: ") + key + " must be an integer array");
    }
  }
  using I64 = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;
  using F64 = py::array_t<double, py::array::c_style | py::array::forcecast>;
  const I64 levels = I64::ensure(d["levels"]), starts = I64::ensure(d["starts"]);
  const F64 values = F64::ensure(d["values"]);
  if (!levels || !starts || !values || values.ndim() != 2 || levels.ndim() != 1 || starts.ndim() != 1 ||
      levels.shape(0) != values.shape(0) || starts.shape(0) != values.shape(0)) {
    throw py::value_error("block sums: levels, starts and values' rows must match");
  }
  if (merge == merge_moments && values.shape(1) % 2 != 1) {
    throw py::value_error("block sums of moments hold 2 d + 1 values per node");
  }
  BlockTree t(values.shape(1), merge);
  for (py::ssize_t i = 0; i < values.shape(0); ++i) {
    const std::int64_t level = levels.at(i);
    if (level < 0 || level > kMaxTreeLevel) throw py::value_error("block sums: a node's level is out of range");
    t.push(static_cast<int>(level), starts.at(i), values.data() + i * values.shape(1));
  }
  return t;
}

// The first block of a call's rows, in range for the tree.
void check_first_block(index_t block0, index_t rows) {
  if (block0 < 0 || block0 > kMaxTreeStart - tree_blocks(rows)) {
    throw py::value_error("first_block must be >= 0 and below 2**56 blocks");
  }
}

template <class T>
py::dict probe_nodes_impl(const py::array& X, const py::object& y, const py::sequence& probes, const py::object& sw,
                          index_t block0, index_t n_shards, int n_threads) {
  const RowsArgs<T> a = rows_args<T>(X, y, sw);
  check_first_block(block0, a.X.rows);
  const ProbeList p = probe_list(probes, a.X.cols, a.y != nullptr);
  const int threads = resolve_threads(n_threads);
  return nodes_dict(run_released([&] { return probe_tree<T>(a.X, a.y, a.sw, p.list, block0, n_shards, threads); }));
}

template <class T>
py::dict moments_nodes_impl(const py::array& X, const py::object& sw, const py::object& shift, index_t block0,
                            index_t n_shards, int n_threads) {
  const MatrixView<T> v = matrix_view<T>(X, "X");
  check_first_block(block0, v.rows);
  const T* sp = vector_ptr<T>(sw, v.rows, "sample_weight");
  const std::vector<double> c = double_vector(shift, v.cols, "shift");
  const int threads = resolve_threads(n_threads);
  return nodes_dict(run_released([&] { return moments_tree<T>(v, sp, c.data(), block0, n_shards, threads); }));
}

template <class T>
py::dict totals_nodes_impl(const py::array& y, const py::object& sw, index_t block0) {
  if (y.ndim() != 1) throw py::value_error("y must be 1-D");
  const index_t n = y.shape(0);
  check_first_block(block0, n);
  const T* yp = vector_ptr<T>(y, n, "y");
  const T* sp = vector_ptr<T>(sw, n, "sample_weight");
  return nodes_dict(run_released([&] { return totals_tree<T>(yp, sp, n, block0); }));
}

// First (row, column) holding NaN or +-inf in row order, or None.
template <class T>
py::object find_nonfinite_impl(const py::array& X) {
  const MatrixView<T> v = matrix_view<T>(X, "X");
  index_t bad_i = -1, bad_j = -1;
  {
    py::gil_scoped_release release;
    for (index_t i = 0; i < v.rows && bad_i < 0; ++i) {
      for (index_t j = 0; j < v.cols; ++j) {
        if (!std::isfinite(v(i, j))) {
          bad_i = i;
          bad_j = j;
          break;
        }
      }
    }
  }
  if (bad_i < 0) return py::none();
  return py::make_tuple(bad_i, bad_j);
}

}  // namespace

void bind_kernels(py::module_& m) {
  m.def("gram_stats", [](const py::object& X, const py::object& y, const py::object& sample_weight,
                         const py::object& shift, index_t n_shards, int n_threads) {
    return x_dtype(X) == Dtype::F64 ? gram_stats_impl<double>(X, y, sample_weight, shift, n_shards, n_threads)
                                    : gram_stats_impl<float>(X, y, sample_weight, shift, n_shards, n_threads);
  }, py::arg("X"), py::arg("y") = py::none(), py::arg("sample_weight") = py::none(), py::arg("shift") = py::none(),
     py::arg("n_shards") = 0, py::arg("n_threads") = 0,
     "Weighted Gram of the augmented rows [x - c, y - c_y, 1] in one sharded pass.\n"
     "X: a 2-D array, or a list of d 1-D contiguous arrays of one float dtype (its columns,\n"
     "e.g. an Arrow record batch's, read in place).\n"
     "y: None, 1-D (one target) or 2-D (n, k) in X's dtype (C or F order); the rows are then\n"
     "[x - c, y_1 - c_y1, ..., y_k - c_yk, 1] and the Gram is (d + k + 1) square.\n"
     "Returns dict(gram, shift, n_rows, n_shards, n_targets); shift (d + k values) defaults\n"
     "to the first row of X and of y.");

  m.def("grouped_gram_stats", [](const py::array& X, const py::object& y, const py::object& sample_weight,
                                 const py::array& groups, index_t n_groups, const py::object& shift,
                                 index_t n_shards, int n_threads) {
    return dtype_of(X, "X") == Dtype::F64
               ? grouped_gram_stats_impl<double>(X, y, sample_weight, groups, n_groups, shift, n_shards, n_threads)
               : grouped_gram_stats_impl<float>(X, y, sample_weight, groups, n_groups, shift, n_shards, n_threads);
  }, py::arg("X"), py::arg("y"), py::arg("sample_weight"), py::arg("groups"), py::arg("n_groups"),
     py::arg("shift") = py::none(), py::arg("n_shards") = 0, py::arg("n_threads") = 0,
     "gram_stats of every group of rows at once, about one common shift, in one read of X.\n"
     "groups: integer array of X's rows, each in [0, n_groups) or -1 (the row is in no group).\n"
     "Returns dict(gram (n_groups, p, p), shift, counts (n_groups,), n_shards, n_targets); the\n"
     "groups' Grams sum to gram_stats' of the grouped rows about the same shift.");

  m.def("loss_grad", [](const py::array& X, const py::object& y, const py::object& w, double b,
                        const py::object& sample_weight, index_t n_shards, int n_threads) {
    return dtype_of(X, "X") == Dtype::F64 ? loss_grad_impl<double>(X, y, w, b, sample_weight, n_shards, n_threads)
                                          : loss_grad_impl<float>(X, y, w, b, sample_weight, n_shards, n_threads);
  }, py::arg("X"), py::arg("y"), py::arg("w"), py::arg("b") = 0.0, py::arg("sample_weight") = py::none(),
     py::arg("n_shards") = 0, py::arg("n_threads") = 0,
     "Fused pass: (sum s, sum s r^2, sum s r, sum s r x) for r = X w + b - y.");

  m.def("probe_sums", [](const py::array& X, const py::object& y, const py::sequence& probes,
                         const py::object& sample_weight, index_t n_shards, int n_threads) {
    return dtype_of(X, "X") == Dtype::F64
               ? probe_sums_impl<double>(X, y, probes, sample_weight, n_shards, n_threads)
               : probe_sums_impl<float>(X, y, probes, sample_weight, n_shards, n_threads);
  }, py::arg("X"), py::arg("y"), py::arg("probes"), py::arg("sample_weight") = py::none(),
     py::arg("n_shards") = 0, py::arg("n_threads") = 0,
     "One fused pass for up to three probes u_k = X w_k + b_k (- y if with_y); probes are\n"
     "(w or None, b, with_y) tuples. Returns dict(sum_w, sum_ux (k x d), sum_u (k), sum_uu (k x k)).");

  m.attr("TREE_BLOCK_ROWS") = kTreeBlockRows;

  m.def("probe_nodes", [](const py::array& X, const py::object& y, const py::sequence& probes,
                          const py::object& sample_weight, index_t first_block, index_t n_shards, int n_threads) {
    return dtype_of(X, "X") == Dtype::F64
               ? probe_nodes_impl<double>(X, y, probes, sample_weight, first_block, n_shards, n_threads)
               : probe_nodes_impl<float>(X, y, probes, sample_weight, first_block, n_shards, n_threads);
  }, py::arg("X"), py::arg("y"), py::arg("probes"), py::arg("sample_weight") = py::none(),
     py::arg("first_block") = 0, py::arg("n_shards") = 0, py::arg("n_threads") = 0,
     "probe_sums as block sums (dict(levels, starts, values)) of X's rows, whose first row starts\n"
     "block first_block (of TREE_BLOCK_ROWS rows): merge_block_nodes joins the block sums of\n"
     "consecutive row ranges, probe_sums_from_nodes turns those of all rows into probe_sums'\n"
     "dict, bit for bit equal to probe_sums over all rows for any split into ranges.");

  m.def("totals_nodes", [](const py::array& y, const py::object& sample_weight, index_t first_block) {
    return dtype_of(y, "y") == Dtype::F64 ? totals_nodes_impl<double>(y, sample_weight, first_block)
                                          : totals_nodes_impl<float>(y, sample_weight, first_block);
  }, py::arg("y"), py::arg("sample_weight") = py::none(), py::arg("first_block") = 0,
     "[sum s, sum s y] (s = 1 without weights) as block sums, as probe_nodes.");

  m.def("moments_nodes", [](const py::array& X, const py::object& sample_weight, const py::object& shift,
                            index_t first_block, index_t n_shards, int n_threads) {
    return dtype_of(X, "X") == Dtype::F64
               ? moments_nodes_impl<double>(X, sample_weight, shift, first_block, n_shards, n_threads)
               : moments_nodes_impl<float>(X, sample_weight, shift, first_block, n_shards, n_threads);
  }, py::arg("X"), py::arg("sample_weight"), py::arg("shift"), py::arg("first_block") = 0,
     py::arg("n_shards") = 0, py::arg("n_threads") = 0,
     "column_moments of X - shift as block sums ([w, mean, M2] per node, kind 'moments'), as\n"
     "probe_nodes; moments_from_nodes turns those of all rows into column_moments' figures.");

  m.def("moments_from_nodes", [](const py::object& nodes, const py::object& shift) {
    const BlockTree t = tree_from(nodes, merge_moments);
    return moments_dict(moments_from_tree(t, double_vector(shift, (t.width() - 1) / 2, "shift")));
  }, py::arg("nodes"), py::arg("shift"),
     "dict(sum_weights, mean, m2, finite) from moments_nodes' block sums of all rows about shift.");

  m.def("merge_block_nodes", [](const py::sequence& parts, const std::string& kind) {
    const MergeFn merge = merge_of(kind);
    BlockTree all(0, merge);
    bool first = true;
    for (const py::handle& p : parts) {
      if (p.is_none()) continue;
      BlockTree t = tree_from(p, merge);
      if (first) {
        all = std::move(t);
        first = false;
      } else {
        all.append(t);
      }
    }
    if (first) throw py::value_error("merge_block_nodes needs at least one part that is not None");
    return nodes_dict(all);
  }, py::arg("parts"), py::arg("kind") = "sum",
     "The block sums of consecutive row ranges (in order; None: a range of no whole block) as one.");

  m.def("block_nodes_total", [](const py::object& nodes) { return vector_array(tree_from(nodes).total()); },
        py::arg("nodes"), "The total of block sums (their nodes added in order).");

  m.def("probe_sums_from_nodes", [](const py::object& nodes, const py::sequence& probes, index_t d) {
    const ProbeList p = probe_list(probes, d, true);
    const detail::ProbeBatch<double> batch(p.list, d);
    return probe_sums_dict(batch.unpack(tree_from(nodes).total()), p.list.size(), d);
  }, py::arg("nodes"), py::arg("probes"), py::arg("d"),
     "probe_sums' dict from the block sums of all rows (probe_nodes, merge_block_nodes).");

  m.def("weighted_row_mean", [](const py::array_t<double, py::array::c_style | py::array::forcecast>& rows,
                                const py::object& sample_weight) {
    if (rows.ndim() != 2) throw py::value_error("rows must be 2-D");
    const index_t m = rows.shape(0), d = rows.shape(1);
    if (m == 0) throw py::value_error("rows is empty");
    const double* sw = vector_ptr<double>(sample_weight, m, "sample_weight");
    std::vector<index_t> idx(static_cast<std::size_t>(m));
    for (index_t i = 0; i < m; ++i) idx[i] = i;
    const double* data = rows.data();
    return vector_array(weighted_row_mean(d, idx, [&](index_t i, double& s) {
      s = sw ? sw[i] : 1.0;
      return data + i * d;
    }));
  }, py::arg("rows"), py::arg("sample_weight") = py::none(),
     "The weighted mean of rows (float64) as the iterative solvers' centering point takes it\n"
     "(their plain mean when the weights sum to 0).");

  m.def("find_nonfinite", [](const py::array& X) {
    return dtype_of(X, "X") == Dtype::F64 ? find_nonfinite_impl<double>(X) : find_nonfinite_impl<float>(X);
  }, py::arg("X"), "First (row, column) of X holding NaN or inf, or None.");

  m.def("reshift_stats", [](const py::array_t<double, py::array::c_style | py::array::forcecast>& gram,
                            const py::object& shift, const py::object& new_shift) {
    const GramStats st = gram_stats_from(gram, shift);
    const GramStats out = reshift(st, double_vector(new_shift, st.d + 1, "new_shift"));
    return square_array(out.gram, out.dim());
  }, py::arg("gram"), py::arg("shift"), py::arg("new_shift"),
     "Re-express augmented Gram statistics about another shift (exact; no data needed).\n"
     "Any number of targets: the shift has one value per column but the last (the ones).");
}

}  // namespace fastcost::bindings
