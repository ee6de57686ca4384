#pragma once
// Subject HDF5 files: groups, float64 datasets (1D/2D, row-major), string and numeric attributes.
// A file opened for writing is created under a temporary name and renamed by close(); destruction
// without close() discards it.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace petpipe {

class H5File {
public:
  enum class Mode { read, create };
  H5File(const std::filesystem::path& path, Mode mode);
  ~H5File();
  H5File(const H5File&) = delete;
  H5File& operator=(const H5File&) = delete;

  // Groups are created as needed ("/tacs/regions").
  void write(const std::string& dataset, const std::vector<double>& values,
             std::vector<std::size_t> shape = {});
  void write_strings(const std::string& dataset, const std::vector<std::string>& values);
  void set_attribute(const std::string& object, const std::string& name, const std::string& value);
  void set_attribute(const std::string& object, const std::string& name, double value);

  std::vector<double> read(const std::string& dataset, std::vector<std::size_t>* shape = nullptr) const;
  std::vector<std::string> read_strings(const std::string& dataset) const;
  std::string string_attribute(const std::string& object, const std::string& name) const;
  double numeric_attribute(const std::string& object, const std::string& name) const;
  bool exists(const std::string& object) const;

  void close();  // for Mode::create: flush and rename into place

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace petpipe
