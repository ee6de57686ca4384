#include "petpipe/core/hdf5_file.hpp"

#include <hdf5.h>

#include <optional>

#include "petpipe/core/atomic_file.hpp"
#include "petpipe/core/error.hpp"

namespace petpipe {

namespace {
// RAII for an hid_t with its close function.
class Handle {
public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  operator hid_t() const { return id_; }
  bool ok() const { return id_ >= 0; }

private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

struct SilenceHdf5 {
  SilenceHdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }
};
}  // namespace

struct H5File::Impl {
  std::filesystem::path path;
  Mode mode;
  std::optional<AtomicFile> atomic;
  hid_t file = -1;

  void check(bool ok, const std::string& what) const {
    if (!ok) throw make_error(path.string(), ": HDF5: ", what);
  }

  // Create intermediate groups of "/a/b/c" (all but the last component).
  void ensure_parents(const std::string& object) {
    std::size_t pos = 1;
    while ((pos = object.find('/', pos)) != std::string::npos) {
      const std::string group = object.substr(0, pos);
      if (H5Lexists(file, group.c_str(), H5P_DEFAULT) <= 0) {
        Handle g(H5Gcreate2(file, group.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
        check(g.ok(), "cannot create group " + group);
      }
      ++pos;
    }
  }
  void remove_existing(const std::string& object) {
    if (H5Lexists(file, object.c_str(), H5P_DEFAULT) > 0) H5Ldelete(file, object.c_str(), H5P_DEFAULT);
  }
};

H5File::H5File(const std::filesystem::path& path, Mode mode) : impl_(std::make_unique<Impl>()) {
  static SilenceHdf5 silence;
  impl_->path = path;
  impl_->mode = mode;
  if (mode == Mode::read) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw make_error(path.string(), ": HDF5 file not found");
    impl_->file = H5Fopen(path.string().c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    impl_->check(impl_->file >= 0, "cannot open (not an HDF5 file?)");
  } else {
    impl_->atomic.emplace(path);
    impl_->file = H5Fcreate(impl_->atomic->temp_path().string().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT,
                            H5P_DEFAULT);
    impl_->check(impl_->file >= 0, "cannot create file");
  }
}

H5File::~H5File() {
  if (impl_ && impl_->file >= 0) H5Fclose(impl_->file);
  // An uncommitted AtomicFile removes its temporary.
}

void H5File::close() {
  if (impl_->file >= 0) {
    const herr_t st = H5Fclose(impl_->file);
    impl_->file = -1;
    impl_->check(st >= 0, "cannot close file");
  }
  if (impl_->atomic) impl_->atomic->commit();
}

void H5File::write(const std::string& dataset, const std::vector<double>& values,
                   std::vector<std::size_t> shape) {
  impl_->check(impl_->mode == Mode::create, "file is open read-only");
  if (shape.empty()) shape = {values.size()};
  std::size_t n = 1;
  std::vector<hsize_t> dims;
  for (auto s : shape) {
    n *= s;
    dims.push_back(s);
  }
  impl_->check(n == values.size(), dataset + ": shape does not match the number of values");
  impl_->ensure_parents(dataset);
  impl_->remove_existing(dataset);
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  Handle ds(H5Dcreate2(impl_->file, dataset.c_str(), H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, H5P_DEFAULT,
                       H5P_DEFAULT),
            H5Dclose);
  impl_->check(ds.ok(), "cannot create dataset " + dataset);
  impl_->check(H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) >= 0,
               "cannot write dataset " + dataset);
}

void H5File::write_strings(const std::string& dataset, const std::vector<std::string>& values) {
  impl_->check(impl_->mode == Mode::create, "file is open read-only");
  impl_->ensure_parents(dataset);
  impl_->remove_existing(dataset);
  std::vector<const char*> ptrs;
  for (const auto& v : values) ptrs.push_back(v.c_str());
  hsize_t dim = values.size();
  Handle space(H5Screate_simple(1, &dim, nullptr), H5Sclose);
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  Handle ds(H5Dcreate2(impl_->file, dataset.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
            H5Dclose);
  impl_->check(ds.ok(), "cannot create dataset " + dataset);
  impl_->check(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()) >= 0,
               "cannot write dataset " + dataset);
}

void H5File::set_attribute(const std::string& object, const std::string& name, const std::string& value) {
  impl_->check(impl_->mode == Mode::create, "file is open read-only");
  if (object != "/" && H5Lexists(impl_->file, object.c_str(), H5P_DEFAULT) <= 0) {
    impl_->ensure_parents(object + "/");
  }
  if (H5Aexists_by_name(impl_->file, object.c_str(), name.c_str(), H5P_DEFAULT) > 0)
    H5Adelete_by_name(impl_->file, object.c_str(), name.c_str(), H5P_DEFAULT);
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attr(H5Acreate_by_name(impl_->file, object.c_str(), name.c_str(), type, space, H5P_DEFAULT,
                                H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose);
  impl_->check(attr.ok(), "cannot create attribute " + object + "@" + name);
  const char* p = value.c_str();
  impl_->check(H5Awrite(attr, type, &p) >= 0, "cannot write attribute " + object + "@" + name);
}

void H5File::set_attribute(const std::string& object, const std::string& name, double value) {
  impl_->check(impl_->mode == Mode::create, "file is open read-only");
  if (object != "/" && H5Lexists(impl_->file, object.c_str(), H5P_DEFAULT) <= 0) {
    impl_->ensure_parents(object + "/");
  }
  if (H5Aexists_by_name(impl_->file, object.c_str(), name.c_str(), H5P_DEFAULT) > 0)
    H5Adelete_by_name(impl_->file, object.c_str(), name.c_str(), H5P_DEFAULT);
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attr(H5Acreate_by_name(impl_->file, object.c_str(), name.c_str(), H5T_NATIVE_DOUBLE, space,
                                H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose);
  impl_->check(attr.ok(), "cannot create attribute " + object + "@" + name);
  impl_->check(H5Awrite(attr, H5T_NATIVE_DOUBLE, &value) >= 0,
               "cannot write attribute " + object + "@" + name);
}

bool H5File::exists(const std::string& object) const {
  if (object == "/") return true;
  // Every parent must exist for H5Lexists to be well defined.
  std::size_t pos = 1;
  while ((pos = object.find('/', pos)) != std::string::npos) {
    if (H5Lexists(impl_->file, object.substr(0, pos).c_str(), H5P_DEFAULT) <= 0) return false;
    ++pos;
  }
  return H5Lexists(impl_->file, object.c_str(), H5P_DEFAULT) > 0;
}

std::vector<double> H5File::read(const std::string& dataset, std::vector<std::size_t>* shape) const {
  impl_->check(exists(dataset), "no dataset " + dataset);
  Handle ds(H5Dopen2(impl_->file, dataset.c_str(), H5P_DEFAULT), H5Dclose);
  impl_->check(ds.ok(), "cannot open dataset " + dataset);
  Handle space(H5Dget_space(ds), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> dims(rank > 0 ? rank : 0);
  if (rank > 0) H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  std::size_t n = 1;
  for (auto d : dims) n *= d;
  std::vector<double> out(n);
  impl_->check(H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) >= 0,
               "cannot read dataset " + dataset);
  if (shape) shape->assign(dims.begin(), dims.end());
  return out;
}

std::vector<std::string> H5File::read_strings(const std::string& dataset) const {
  impl_->check(exists(dataset), "no dataset " + dataset);
  Handle ds(H5Dopen2(impl_->file, dataset.c_str(), H5P_DEFAULT), H5Dclose);
  Handle space(H5Dget_space(ds), H5Sclose);
  hsize_t dim = 0;
  H5Sget_simple_extent_dims(space, &dim, nullptr);
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  std::vector<char*> ptrs(dim, nullptr);
  impl_->check(H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()) >= 0,
               "cannot read dataset " + dataset);
  std::vector<std::string> out;
  for (char* p : ptrs) out.emplace_back(p ? p : "");
  H5Dvlen_reclaim(type, space, H5P_DEFAULT, ptrs.data());
  return out;
}

std::string H5File::string_attribute(const std::string& object, const std::string& name) const {
  Handle attr(H5Aopen_by_name(impl_->file, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose);
  impl_->check(attr.ok(), "no attribute " + object + "@" + name);
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  char* p = nullptr;
  impl_->check(H5Aread(attr, type, &p) >= 0, "cannot read attribute " + object + "@" + name);
  std::string out = p ? p : "";
  H5free_memory(p);
  return out;
}

double H5File::numeric_attribute(const std::string& object, const std::string& name) const {
  Handle attr(H5Aopen_by_name(impl_->file, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose);
  impl_->check(attr.ok(), "no attribute " + object + "@" + name);
  double v = 0;
  impl_->check(H5Aread(attr, H5T_NATIVE_DOUBLE, &v) >= 0, "cannot read attribute " + object + "@" + name);
  return v;
}

}  // namespace petpipe
