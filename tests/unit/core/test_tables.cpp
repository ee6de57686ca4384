// TSV, participants.tsv, HDF5 subject files, SHA-256 and provenance, BIDS names and layout.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "petpipe/core/bids.hpp"
#include "petpipe/core/error.hpp"
#include "petpipe/core/hdf5_file.hpp"
#include "petpipe/core/nifti_io.hpp"
#include "petpipe/core/provenance.hpp"
#include "petpipe/core/tsv.hpp"
#include "test_util.hpp"

using namespace petpipe;
namespace fs = std::filesystem;

TEST(Tsv, RoundTripWithMissingValues) {
  const auto dir = test::fresh_dir("tsv");
  Table t;
  t.columns = {"frame_start", "frame_end", "thalamus"};
  t.add_row({"0", "60", format_number(1.25)});
  t.add_row({"60", "120", format_number(NAN)});
  write_tsv(dir / "t.tsv", t);
  std::ifstream in(dir / "t.tsv");
  std::string header;
  std::getline(in, header);
  EXPECT_EQ(header, "frame_start\tframe_end\tthalamus");
  const auto back = read_tsv(dir / "t.tsv");
  EXPECT_EQ(back.columns, t.columns);
  const auto v = back.numeric_column("thalamus");
  EXPECT_DOUBLE_EQ(v[0], 1.25);
  EXPECT_TRUE(std::isnan(v[1]));
  EXPECT_EQ(back.rows[1][2], "n/a");
  EXPECT_THROW(back.column_index("amygdala"), Error);
  EXPECT_THROW(t.add_row({"1"}), Error);
}

TEST(Tsv, BadTablesAreRejected) {
  const auto dir = test::fresh_dir("tsvbad");
  write_text(dir / "ragged.tsv", "a\tb\n1\t2\n3\n");
  try {
    read_tsv(dir / "ragged.tsv");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ragged.tsv: line 3"), std::string::npos) << e.what();
  }
  write_text(dir / "comma.tsv", "a,b\n1,2\n");
  EXPECT_THROW(read_tsv(dir / "comma.tsv"), Error);
  EXPECT_THROW(read_tsv(dir / "missing.tsv"), Error);
  write_text(dir / "text.tsv", "x\nabc\n");
  EXPECT_THROW(read_tsv(dir / "text.tsv").numeric_column("x"), Error);
}

TEST(Participants, TypedColumns) {
  const auto dir = test::fresh_dir("participants");
  write_text(dir / "participants.tsv",
             "participant_id\tgroup\tage\tsex\nsub-01\tsecure\t34\tF\nsub-02\tavoidant\tn/a\tM\n"
             "sub-03\tambivalent\t41.5\tF\n");
  const auto p = read_participants(dir / "participants.tsv");
  ASSERT_EQ(p.size(), 3u);
  EXPECT_TRUE(p.column("age").numeric);
  EXPECT_FALSE(p.column("group").numeric);
  EXPECT_EQ(p.column("group").levels[1], "avoidant");
  EXPECT_TRUE(std::isnan(p.column("age").values[1]));
  EXPECT_DOUBLE_EQ(p.column("age").values[2], 41.5);
  EXPECT_EQ(*p.find("03"), 2u);
  EXPECT_EQ(*p.find("sub-01"), 0u);
  EXPECT_FALSE(p.find("04"));
  EXPECT_THROW(p.column("weight"), Error);
  write_text(dir / "dup.tsv", "participant_id\tage\nsub-01\t3\nsub-01\t4\n");
  EXPECT_THROW(read_participants(dir / "dup.tsv"), Error);
  write_text(dir / "noid.tsv", "subject\tage\n01\t3\n");
  EXPECT_THROW(read_participants(dir / "noid.tsv"), Error);
}

TEST(Hdf5, RoundTripWithGroupsAndAttributes) {
  const auto dir = test::fresh_dir("h5");
  const fs::path p = dir / "sub-01_pet.h5";
  {
    H5File f(p, H5File::Mode::create);
    f.write("/tacs/reference", {1, 2, 3});
    f.write("/fits/matrix", {1, 2, 3, 4, 5, 6}, {2, 3});
    f.write_strings("/tacs/regions", {"thalamus", "amygdala"});
    f.set_attribute("/tacs/reference", "units", "kBq/mL");
    f.set_attribute("/", "half_life_s", 1221.84);
    f.set_attribute("/provenance", "version", "0.1.0");
    EXPECT_FALSE(fs::exists(p)) << "not visible before close()";
    f.close();
  }
  ASSERT_TRUE(fs::exists(p));
  H5File r(p, H5File::Mode::read);
  std::vector<std::size_t> shape;
  EXPECT_EQ(r.read("/fits/matrix", &shape), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(shape, (std::vector<std::size_t>{2, 3}));
  EXPECT_EQ(r.read("/tacs/reference"), (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(r.read_strings("/tacs/regions"), (std::vector<std::string>{"thalamus", "amygdala"}));
  EXPECT_EQ(r.string_attribute("/tacs/reference", "units"), "kBq/mL");
  EXPECT_DOUBLE_EQ(r.numeric_attribute("/", "half_life_s"), 1221.84);
  EXPECT_EQ(r.string_attribute("/provenance", "version"), "0.1.0");
  EXPECT_TRUE(r.exists("/tacs"));
  EXPECT_FALSE(r.exists("/nothing/here"));
  EXPECT_THROW(r.read("/nothing"), Error);
}

TEST(Hdf5, AbandonedFileLeavesNothingAndBadFilesAreRejected) {
  const auto dir = test::fresh_dir("h5bad");
  {
    H5File f(dir / "x.h5", H5File::Mode::create);
    f.write("/a", {1});
    EXPECT_THROW(f.write("/b", {1, 2, 3}, {2, 2}), Error);
  }  // no close(): discarded
  EXPECT_EQ(test::file_count(dir), 0u);
  write_text(dir / "fake.h5", "not hdf5");
  EXPECT_THROW(H5File(dir / "fake.h5", H5File::Mode::read), Error);
  EXPECT_THROW(H5File(dir / "none.h5", H5File::Mode::read), Error);
}

TEST(Provenance, Sha256KnownVectorsAndFiles) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  const auto dir = test::fresh_dir("sha");
  std::string big;
  for (int i = 0; i < 300000; ++i) big += static_cast<char>(i * 7 % 251);
  write_text(dir / "f.bin", big);
  const auto r = test::run("sha256sum " + (dir / "f.bin").string());
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.output.substr(0, 64), sha256_file(dir / "f.bin"));

  Provenance prov;
  prov.command_line = "petpipe test";
  prov.configuration = {{"fwhm_mm", 8}};
  prov.inputs = {dir / "f.bin"};
  const auto j = prov.to_json();
  EXPECT_EQ(j["GeneratedBy"][0]["Name"], "petpipe");
  EXPECT_EQ(j["GeneratedBy"][0]["Version"], version_string());
  EXPECT_EQ(j["Configuration"]["fwhm_mm"], 8);
  EXPECT_EQ(j["Sources"][0]["SHA256"], sha256_file(dir / "f.bin"));
}

TEST(Bids, NamesParseAndDerive) {
  const auto n = bids::parse_name("sub-01_ses-a_trc-carfentanil_rec-OSEM_pet.nii.gz");
  ASSERT_TRUE(n);
  EXPECT_EQ(*n->get("sub"), "01");
  EXPECT_EQ(*n->get("trc"), "carfentanil");
  EXPECT_EQ(n->suffix, "pet");
  EXPECT_EQ(n->extension, ".nii.gz");
  EXPECT_EQ(n->str(), "sub-01_ses-a_trc-carfentanil_rec-OSEM_pet.nii.gz");
  EXPECT_EQ(bids::derivative_name(*n, {{"model", "SRTM"}, {"meas", "BPND"}}, "mimap", ".nii.gz"),
            "sub-01_ses-a_trc-carfentanil_rec-OSEM_model-SRTM_meas-BPND_mimap.nii.gz");
  EXPECT_EQ(bids::derivative_name(*n, {{"space", "MNIColin27"}, {"desc", "sm8"}}, "mimap", ".nii.gz"),
            "sub-01_ses-a_trc-carfentanil_rec-OSEM_space-MNIColin27_desc-sm8_mimap.nii.gz");
  EXPECT_FALSE(bids::parse_name("notbids.nii.gz"));
  EXPECT_FALSE(bids::parse_name("ses-1_sub-01_pet.nii"));
  EXPECT_FALSE(bids::parse_name("sub-01_bad_pet.nii"));
}

TEST(Bids, ScanFindsSubjectsTracersAndAnatomy) {
  const auto dir = test::fresh_dir("bidsds");
  write_json(dir / "dataset_description.json", {{"Name", "tiny"}, {"BIDSVersion", "1.8.0"}});
  write_text(dir / "participants.tsv", "participant_id\tgroup\nsub-01\ta\nsub-02\tb\n");
  for (const char* s : {"01", "02"}) {
    const fs::path pet = dir / (std::string("sub-") + s) / "pet";
    fs::create_directories(pet);
    fs::create_directories(dir / (std::string("sub-") + s) / "anat");
    write_text(pet / (std::string("sub-") + s + "_trc-madam_pet.nii.gz"), "");
    write_text(dir / (std::string("sub-") + s) / "anat" / (std::string("sub-") + s + "_T1w.nii.gz"), "");
  }
  // a scan without trc- takes its tracer from the sidecar
  write_text(dir / "sub-02/pet/sub-02_run-2_pet.nii.gz", "");
  write_json(dir / "sub-02/pet/sub-02_run-2_pet.json", {{"TracerName", "carfentanil"}});
  const auto ds = bids::scan_dataset(dir);
  EXPECT_EQ(ds.name, "tiny");
  EXPECT_EQ(ds.subjects, (std::vector<std::string>{"01", "02"}));
  ASSERT_EQ(ds.pet.size(), 3u);
  EXPECT_EQ(ds.pet[0].tracer, "madam");
  EXPECT_EQ(ds.pet[0].t1w.size(), 1u);
  EXPECT_EQ(ds.pet[1].tracer, "carfentanil");
  EXPECT_TRUE(ds.participants);
  EXPECT_EQ(bids::scan_dataset(dir, {"sub-02"}).subjects, std::vector<std::string>{"02"});
  EXPECT_THROW(bids::scan_dataset(dir, {"07"}), Error);
  EXPECT_THROW(bids::scan_dataset(dir / "nope"), Error);
  EXPECT_THROW(bids::scan_dataset(dir / "sub-01"), Error);
}
