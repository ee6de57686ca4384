// petpipe slurm without a cluster: the pieces (job ids, scontrol/jobcomp records, array index lists,
// shell quoting, resource validation, running programs), the scripts --dry-run prints, submission through
// a stand-in sbatch/scontrol pair that records what it is given (and the array script executed as
// Slurm would run it), --status from status files and Slurm's records, and the errors.
// The same command against a real single-node Slurm is tests/integration/slurm_cohort.sh.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "petpipe/core/error.hpp"
#include "petpipe/core/nifti_io.hpp"
#include "petpipe/pipeline/slurm.hpp"
#include "test_util.hpp"

using namespace petpipe;
using namespace petpipe::pipeline;
namespace fs = std::filesystem;

namespace {

std::string exe() { return test::petpipe_exe(); }

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void put(const fs::path& p, const std::string& text, bool executable = false) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
  if (executable)
    fs::permissions(p, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec, fs::perm_options::replace);
}

bool has(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

// A BIDS tree as petpipe slurm sees it (names and sidecars only: it never reads the images).
fs::path make_bids(const fs::path& root, const std::vector<std::string>& pet_names) {
  put(root / "dataset_description.json", R"({"Name": "slurm test", "BIDSVersion": "1.8.0"})");
  put(root / "participants.tsv", "participant_id\tgroup\nsub-01\ta\n");
  for (const auto& n : pet_names) {
    const std::string sub = n.substr(0, n.find('_'));
    put(root / sub / "pet" / (n + "_pet.nii.gz"), "");
    put(root / sub / "pet" / (n + "_pet.json"), "{}");
  }
  return root;
}

void put_status(const fs::path& out, const std::string& sub, const std::string& tracer, const std::string& status,
                const std::string& error = "", double seconds = 10.0) {
  nlohmann::json j = {{"subject", sub},   {"session", ""},      {"tracer", tracer},    {"status", status},
                      {"error", error},   {"failed_stage", status == "failed" ? "realign" : ""},
                      {"duration_s", seconds}, {"stages", nlohmann::json::object()}};
  put(out / ("sub-" + sub) / ("sub-" + sub + "_trc-" + tracer + "_status.json"), j.dump());
}

// sbatch and scontrol stand-ins in dir: sbatch records its arguments and the script, answers job ids
// 100, 101, ... ("<id>;cluster", as --parsable does on a named cluster); scontrol answers `show job ID`
// from dir/job_<ID> and `show config` with dir/jobcomp when that exists.
fs::path make_fake_slurm(const fs::path& dir) {
  put(dir / "sbatch",
      "#!/bin/bash\n"
      "d=$(dirname \"$0\")\n"
      "n=$(cat \"$d/next_id\" 2>/dev/null || echo 100)\n"
      "echo $((n + 1)) > \"$d/next_id\"\n"
      "echo \"$*\" >> \"$d/calls\"\n"
      "cp \"${@: -1}\" \"$d/submitted_$n.sh\"\n"
      "echo \"$n;testcluster\"\n",
      true);
  put(dir / "scontrol",
      "#!/bin/bash\n"
      "d=$(dirname \"$0\")\n"
      "if [ \"$1 $2\" = 'show config' ]; then\n"
      "  [ -f \"$d/jobcomp\" ] || exit 1\n"
      "  echo \"JobCompType             = jobcomp/filetxt\"; echo \"JobCompLoc              = $d/jobcomp\"; exit 0\n"
      "fi\n"
      "if [ \"$1 $2 $3\" = '-o show job' ] && [ -f \"$d/job_$4\" ]; then cat \"$d/job_$4\"; exit 0; fi\n"
      "echo 'slurm_load_jobs error: Invalid job id specified' >&2; exit 1\n",
      true);
  return dir / "sbatch";
}

std::vector<std::string> lines_of(const fs::path& p) {
  std::vector<std::string> v;
  std::ifstream in(p);
  std::string l;
  while (std::getline(in, l)) v.push_back(l);
  return v;
}

struct Fixture {
  fs::path root, bids, out, config, fake, sbatch;
  explicit Fixture(const std::string& name, const std::vector<std::string>& pets = {
                                                "sub-01_trc-carfentanil", "sub-02_trc-carfentanil",
                                                "sub-03_trc-carfentanil"}) {
    root = test::fresh_dir("slurm_" + name);
    bids = make_bids(root / "bids", pets);
    out = root / "out";
    config = root / "config.json";
    put(config, R"({"tracer": "carfentanil"})");
    fake = root / "fake";
    sbatch = make_fake_slurm(fake);
  }
  std::string plain() const {
    return exe() + " slurm --bids " + bids.string() + " --out " + out.string() + " --config " + config.string();
  }
  std::string base() const { return plain() + " --sbatch " + sbatch.string(); }
};

}  // namespace

// --- the pieces ------------------------------------------------------------------------------------

TEST(SlurmParse, JobIdsIndexListsAndRecords) {
  EXPECT_EQ(parse_job_id("1234\n"), "1234");
  EXPECT_EQ(parse_job_id("77;cluster-a\n"), "77");
  EXPECT_EQ(parse_job_id("sbatch: warning: something\n88\n"), "88");
  EXPECT_THROW(parse_job_id("Submitted batch job\n"), Error);
  EXPECT_THROW(parse_job_id(""), Error);

  EXPECT_EQ(parse_index_list("5"), (std::vector<int>{5}));
  EXPECT_EQ(parse_index_list("0-3%2"), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(parse_index_list("1,4,6-8"), (std::vector<int>{1, 4, 6, 7, 8}));
  EXPECT_THROW(parse_index_list("a-b"), Error);

  const auto recs = parse_slurm_records(
      "JobId=7 ArrayJobId=7 ArrayTaskId=3-5%2 ArrayTaskThrottle=2 JobName=petpipe-run JobState=PENDING Reason=JobArrayTaskLimit\n"
      "JobId=9 ArrayJobId=7 ArrayTaskId=1 JobState=RUNNING Reason=None\n"
      "slurm_load_jobs error: nothing\n"
      "JobId=8 ArrayJobId=7 ArrayTaskId=0 JobState=COMPLETED\n"
      "JobId=12 ArrayJobId=11 ArrayTaskId=2 JobState=FAILED\n"
      "JobId=10 ArrayJobId=7 ArrayTaskId=2 JobState=TIMEOUT\n");
  ASSERT_EQ(recs.size(), 5u);
  EXPECT_EQ(recs[1].at("JobState"), "RUNNING");
  const auto states = array_task_states(recs, "7");
  const std::map<int, std::string> expected = {
      {0, "COMPLETED"}, {1, "RUNNING"}, {2, "TIMEOUT"}, {3, "PENDING"}, {4, "PENDING"}, {5, "PENDING"}};
  EXPECT_EQ(states, expected);
  EXPECT_TRUE(is_active_state("PENDING"));
  EXPECT_TRUE(is_active_state("RUNNING"));
  EXPECT_FALSE(is_active_state("COMPLETED"));
  EXPECT_FALSE(is_active_state("OUT_OF_MEMORY"));
}

TEST(SlurmParse, ResourcesValidation) {
  SlurmResources r;
  EXPECT_NO_THROW(validate(r));
  for (const char* t : {"30", "10:00", "02:00:00", "1-12", "2-00:30", "1-02:03:04"}) {
    r.time = t;
    EXPECT_NO_THROW(validate(r)) << t;
  }
  for (const char* t : {"", "abc", "1h", "10 minutes", "1:2:3:4", "-5"}) {
    r.time = t;
    EXPECT_THROW(validate(r), Error) << t;
  }
  r.time = "01:00:00";
  for (const char* m : {"500", "8G", "16000M", "1T"}) {
    r.mem = m;
    EXPECT_NO_THROW(validate(r)) << m;
  }
  for (const char* m : {"", "lots", "8GB", "0", "-1G"}) {
    r.mem = m;
    EXPECT_THROW(validate(r), Error) << m;
  }
  r.mem = "1G";
  r.cpus_per_task = 0;
  EXPECT_THROW(validate(r), Error);
  r.cpus_per_task = 1;
  r.max_parallel = 0;
  EXPECT_THROW(validate(r), Error);
  r.max_parallel = 1;
  r.partition = "a b";
  EXPECT_THROW(validate(r), Error);
}

TEST(SlurmParse, ShellQuotingSurvivesBash) {
  const auto dir = test::fresh_dir("slurm_quote");
  for (const std::string s : {"plain", "with space", "it's", "$HOME `x` \"q\" \\ ;|&", ""}) {
    put(dir / "q.sh", "printf '%s' " + shell_quote(s) + " > " + shell_quote((dir / "got").string()) + "\n");
    ASSERT_EQ(std::system(("bash " + (dir / "q.sh").string()).c_str()), 0);
    EXPECT_EQ(slurp(dir / "got"), s);
  }
}

TEST(SlurmParse, RunProcessCapturesOutputAndExitCode) {
  auto r = run_process({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  // More than a pipe buffer on both streams at once must not deadlock.
  r = run_process({"/bin/sh", "-c", "head -c 200000 /dev/zero; head -c 300000 /dev/zero >&2"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.size(), 200000u);
  EXPECT_EQ(r.err.size(), 300000u);
  EXPECT_THROW(run_process({"/nonexistent/sbatch"}), Error);
  EXPECT_TRUE(find_on_path("sh").has_value());
  EXPECT_FALSE(find_on_path("no-such-program-petpipe").has_value());
}

// --- dry run -----------------------------------------------------------------------------------------

TEST(SlurmCli, DryRunPrintsScriptsAndWritesNothing) {
  Fixture f("dry");
  const auto r = test::run(f.base() +
                           " --partition short --account lab --time 00:10:00 --mem 2G --cpus-per-task 1 "
                           "--max-parallel 2 --dry-run");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* s : {"#SBATCH --array=0-2%2", "#SBATCH --cpus-per-task=1", "#SBATCH --mem=2G",
                        "#SBATCH --time=00:10:00", "#SBATCH --partition=short", "#SBATCH --account=lab",
                        "#SBATCH --job-name=petpipe-run", "#SBATCH --job-name=petpipe-group",
                        "#SBATCH --dependency=afterok:<array job id>", "#SBATCH --kill-on-invalid-dep=yes",
                        " run --bids ", "--participant-label \"$subject\"", " group --derivatives ",
                        "--participants ", "3 to run: 01 02 03", "subjects-1.txt\n01\n02\n03\n"})
    EXPECT_TRUE(has(r.output, s)) << s << "\n" << r.output;
  EXPECT_FALSE(has(r.output, "--allow-missing"));
  EXPECT_FALSE(has(r.output, "afterany"));
  // The logs go to OUT/slurm/logs, one per subject.
  EXPECT_TRUE(has(r.output, (f.out / "slurm" / "logs").string() + "'/sub-${subject}_${SLURM_ARRAY_JOB_ID}_${task}.log"));
  EXPECT_FALSE(fs::exists(f.out));
  EXPECT_FALSE(fs::exists(f.fake / "calls"));
}

TEST(SlurmCli, DryRunAllowMissingAndNoGroup) {
  Fixture f("dry_allow");
  auto r = test::run(f.base() + " --allow-missing --dry-run");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "#SBATCH --dependency=afterany:<array job id>")) << r.output;
  EXPECT_TRUE(has(r.output, "#SBATCH --kill-on-invalid-dep=yes"));
  EXPECT_TRUE(has(r.output, " --allow-missing --threads"));
  // Defaults: 4 CPUs, 8G, 4 h, at most 20 at once, no partition or account.
  for (const char* s : {"--array=0-2%20", "--cpus-per-task=4", "--mem=8G", "--time=04:00:00"})
    EXPECT_TRUE(has(r.output, s)) << s;
  EXPECT_FALSE(has(r.output, "--partition="));
  EXPECT_FALSE(has(r.output, "--account="));
  r = test::run(f.base() + " --no-group --dry-run");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(has(r.output, "petpipe-group"));
  EXPECT_FALSE(has(r.output, "group-1.sbatch"));
  EXPECT_FALSE(fs::exists(f.out));
}

TEST(SlurmCli, OnlyIncompleteSubjectsAreSubmitted) {
  Fixture f("resume", {"sub-01_trc-carfentanil", "sub-02_trc-carfentanil", "sub-03_trc-carfentanil",
                       "sub-04_trc-a", "sub-04_trc-b", "sub-05_trc-cfn"});
  put_status(f.out, "01", "carfentanil", "complete");
  put_status(f.out, "02", "carfentanil", "failed", "realign: bad frame");
  put_status(f.out, "04", "a", "complete");  // its second scan (trc-b) has not run
  put_status(f.out, "05", "carfentanil", "complete");  // the only scan; the runner named the tracer from the config
  auto r = test::run(f.base() + " --dry-run");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "--array=0-2%")) << r.output;
  EXPECT_TRUE(has(r.output, "subjects-1.txt\n02\n03\n04\n#")) << r.output;
  EXPECT_TRUE(has(r.output, "2 of 5 subjects complete (01 05); 3 to run: 02 03 04")) << r.output;
  r = test::run(f.base() + " --dry-run --force");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "--array=0-4%")) << r.output;
  r = test::run(f.base() + " --dry-run --participant-label 03 sub-05");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "--array=0-0%")) << r.output;
  EXPECT_TRUE(has(r.output, "subjects-1.txt\n03\n#")) << r.output;
}

// --- submission through stand-ins ---------------------------------------------------------------------

TEST(SlurmCli, SubmitsArrayThenDependentGroupAndRecordsThem) {
  Fixture f("submit");
  // The program the jobs run: records its arguments.
  const fs::path recorder = f.root / "recorder.sh";
  put(recorder, "#!/bin/bash\necho \"ARGS: $*\"\necho oops >&2\nexit 0\n", true);
  auto r = test::run(f.base() + " --max-parallel 2 --cpus-per-task 1 --petpipe " + recorder.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "submitted array job 100: 3 subjects (01 02 03), at most 2 at once")) << r.output;
  EXPECT_TRUE(has(r.output, "submitted group job 101, to run when every task of array job 100 succeeded"));

  const auto calls = lines_of(f.fake / "calls");
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0], "--parsable " + (f.out / "slurm" / "run-1.sbatch").string());
  EXPECT_EQ(calls[1], "--parsable " + (f.out / "slurm" / "group-1.sbatch").string());
  const std::string group = slurp(f.fake / "submitted_101.sh");
  EXPECT_TRUE(has(group, "#SBATCH --dependency=afterok:100\n#SBATCH --kill-on-invalid-dep=yes\n")) << group;
  EXPECT_EQ(lines_of(f.out / "slurm" / "subjects-1.txt"), (std::vector<std::string>{"01", "02", "03"}));

  const auto subs = read_json(f.out / "slurm" / "submissions.json")["submissions"];
  ASSERT_EQ(subs.size(), 1u);
  EXPECT_EQ(subs[0]["array_job"], "100");
  EXPECT_EQ(subs[0]["group_job"], "101");
  EXPECT_EQ(subs[0]["subjects"], nlohmann::json({"01", "02", "03"}));

  // Run the array script as Slurm would run task 1: it must pick line 2 of the subject list and put the
  // run's output in the subject's log.
  const std::string env = "SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_JOB_ID=100 SLURM_JOB_ID=103 SLURM_CPUS_PER_TASK=3 ";
  auto t = test::run(env + "bash " + (f.fake / "submitted_100.sh").string());
  EXPECT_EQ(t.exit_code, 0) << t.output;
  EXPECT_TRUE(has(t.output, "task 1 (job 103) runs sub-02")) << t.output;
  const std::string log = slurp(f.out / "slurm" / "logs" / "sub-02_100_1.log");
  EXPECT_EQ(log, "ARGS: run --bids " + f.bids.string() + " --out " + f.out.string() + " --config " +
                     f.config.string() + " --participant-label 02 --threads 3\noops\n");
  // A task index past the list fails loudly.
  t = test::run("SLURM_ARRAY_TASK_ID=3 SLURM_ARRAY_JOB_ID=100 SLURM_JOB_ID=104 bash " +
                (f.fake / "submitted_100.sh").string());
  EXPECT_EQ(t.exit_code, 2);
  EXPECT_TRUE(has(t.output, "no subject on line 4")) << t.output;
  // The group script runs `petpipe group` on the derivatives.
  t = test::run("SLURM_JOB_ID=105 SLURM_CPUS_PER_TASK=2 bash " + (f.fake / "submitted_101.sh").string());
  EXPECT_EQ(t.exit_code, 0) << t.output;
  EXPECT_TRUE(has(t.output, "ARGS: group --derivatives " + f.out.string() + " --config " + f.config.string() +
                                " --participants " + (f.bids / "participants.tsv").string() + " --threads 2"))
      << t.output;
}

TEST(SlurmCli, RerunSkipsCompleteAndRefusesBusySubjects) {
  Fixture f("rerun");
  auto r = test::run(f.base());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // Task 1 (sub-02) still running, task 2 pending: a rerun must not submit them again.
  put(f.fake / "job_100", "JobId=100 ArrayJobId=100 ArrayTaskId=2 JobState=PENDING\n"
                          "JobId=103 ArrayJobId=100 ArrayTaskId=1 JobState=RUNNING\n"
                          "JobId=102 ArrayJobId=100 ArrayTaskId=0 JobState=COMPLETED\n");
  put_status(f.out, "01", "carfentanil", "complete");
  r = test::run(f.base());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has(r.output, "sub-02 (job 100_1 RUNNING), sub-03 (job 100_2 PENDING)")) << r.output;
  EXPECT_EQ(lines_of(f.fake / "calls").size(), 2u);
  EXPECT_FALSE(fs::exists(f.out / "slurm" / "run-2.sbatch"));

  // The array has ended; sub-02 failed: the rerun submits 02 and 03 only, as submission 2.
  fs::remove(f.fake / "job_100");
  put_status(f.out, "02", "carfentanil", "failed", "realign: bad frame");
  r = test::run(f.base() + " --allow-missing");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "submitted array job 102: 2 subjects (02 03)")) << r.output;
  EXPECT_TRUE(has(r.output, "1 subject already complete, not resubmitted: 01")) << r.output;
  EXPECT_TRUE(has(r.output, "submitted group job 103, to run when array job 102 has ended (--allow-missing)"));
  EXPECT_EQ(lines_of(f.out / "slurm" / "subjects-2.txt"), (std::vector<std::string>{"02", "03"}));
  EXPECT_TRUE(has(slurp(f.fake / "submitted_102.sh"), "#SBATCH --array=0-1%20\n"));
  EXPECT_TRUE(has(slurp(f.fake / "submitted_103.sh"), "#SBATCH --dependency=afterany:102\n"));
  EXPECT_EQ(read_json(f.out / "slurm" / "submissions.json")["submissions"].size(), 2u);

  // Everything complete: only the group job, without a dependency; with --no-group nothing at all.
  put_status(f.out, "02", "carfentanil", "complete");
  put_status(f.out, "03", "carfentanil", "complete");
  r = test::run(f.base());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto calls = lines_of(f.fake / "calls");
  ASSERT_EQ(calls.size(), 5u);
  EXPECT_EQ(calls[4], "--parsable " + (f.out / "slurm" / "group-3.sbatch").string());
  EXPECT_FALSE(has(slurp(f.fake / "submitted_104.sh"), "--dependency"));
  r = test::run(f.base() + " --no-group");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "all 3 subjects complete; nothing to submit")) << r.output;
  EXPECT_EQ(lines_of(f.fake / "calls").size(), 5u);
}

// --- status -------------------------------------------------------------------------------------------

TEST(SlurmCli, StatusCombinesStatusFilesQueueAndJobcomp) {
  Fixture f("status", {"sub-01_trc-carfentanil", "sub-02_trc-carfentanil", "sub-03_trc-carfentanil",
                       "sub-04_trc-carfentanil", "sub-05_trc-carfentanil"});
  put(f.out / "slurm" / "submissions.json",
      R"({"submissions": [{"n": 1, "array_job": "100", "group_job": "101", "subjects": ["01", "02", "03", "04"]}]})");
  put_status(f.out, "01", "carfentanil", "complete", "", 12.5);
  put_status(f.out, "02", "carfentanil", "failed", "realign: FrameDuration of frame 3 is not positive", 2.0);
  put(f.fake / "job_100", "JobId=104 ArrayJobId=100 ArrayTaskId=2 JobState=RUNNING\n");
  put(f.fake / "job_101", "JobId=101 JobName=petpipe-group JobState=PENDING Reason=Dependency\n");
  put(f.fake / "jobcomp",
      "JobId=102 UserId=root(0) Name=petpipe-run JobState=COMPLETED ArrayJobId=100 ArrayTaskId=0 ExitCode=0:0\n"
      "JobId=103 UserId=root(0) Name=petpipe-run JobState=FAILED ArrayJobId=100 ArrayTaskId=1 ExitCode=1:0\n"
      "JobId=105 UserId=root(0) Name=petpipe-run JobState=TIMEOUT ArrayJobId=100 ArrayTaskId=3 ExitCode=0:15\n");
  auto r = test::run(exe() + " slurm --status --out " + f.out.string() + " --bids " + f.bids.string() +
                     " --sbatch " + f.sbatch.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::regex row01(R"(\n01\s+carfentanil\s+complete\s+12\.5\s+100_0\s*\n)");
  const std::regex row02(R"(\n02\s+carfentanil\s+failed\s+2\.0\s+100_1\s+realign: FrameDuration of frame 3 is not positive; Slurm job 100_1 ended FAILED)");
  const std::regex row03(R"(\n03\s+carfentanil\s+running\s+-\s+100_2\s+Slurm RUNNING)");
  const std::regex row04(R"(\n04\s+carfentanil\s+failed\s+-\s+100_3\s+Slurm job 100_3 ended TIMEOUT \(log: [^)]*sub-04_100_3\.log\))");
  const std::regex row05(R"(\n05\s+carfentanil\s+not run\s+-\s+-\s*\n)");
  for (const auto* re : {&row01, &row02, &row03, &row04, &row05}) EXPECT_TRUE(std::regex_search(r.output, *re)) << r.output;
  EXPECT_TRUE(has(r.output, "group job 101 (submission 1): PENDING (Dependency)")) << r.output;
  EXPECT_TRUE(has(r.output, "summary: 1 complete, 2 failed, 1 running, 0 queued, 1 not run")) << r.output;

  // Without --bids the cohort is what the status files and submissions name.
  r = test::run(exe() + " slurm --status --out " + f.out.string() + " --sbatch " + f.sbatch.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "(4 subjects, 4 scans)")) << r.output;
  EXPECT_TRUE(has(r.output, "summary: 1 complete, 2 failed, 1 running, 0 queued, 0 not run")) << r.output;
}

// --- errors -------------------------------------------------------------------------------------------

TEST(SlurmCli, ErrorsAreClearAndNothingIsWritten) {
  Fixture f("errors");
  // No sbatch on PATH.
  auto r = test::run("env PATH=" + (f.root / "empty").string() + " " + exe() + " slurm --bids " + f.bids.string() +
                     " --out " + f.out.string() + " --config " + f.config.string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has(r.output, "sbatch not found on PATH")) << r.output;
  // --dry-run needs no sbatch.
  r = test::run("env PATH=" + (f.root / "empty").string() + " " + exe() + " slurm --bids " + f.bids.string() +
                " --out " + f.out.string() + " --config " + f.config.string() + " --dry-run");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = test::run(f.plain() + " --sbatch " + (f.root / "nope").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has(r.output, "--sbatch " + (f.root / "nope").string() + ": not an executable file")) << r.output;

  struct Bad {
    std::string args, message;
  };
  const std::vector<Bad> bad = {
      {" --time 10min", "--time 10min: not a Slurm time limit"},
      {" --mem lots", "--mem lots: not a memory size"},
      {" --max-parallel 0", "--max-parallel: 0 is not allowed (expected an integer [1, 100000])"},
      {" --cpus-per-task 0", "--cpus-per-task: 0 is not allowed (expected an integer [1, 1024])"},
      {" --participant-label 09", "participant sub-09 not found"},
  };
  for (const auto& b : bad) {
    r = test::run(f.base() + b.args);
    EXPECT_EQ(r.exit_code, 1) << b.args;
    EXPECT_TRUE(has(r.output, "petpipe slurm: error: ") && has(r.output, b.message)) << b.args << "\n" << r.output;
  }
  r = test::run(exe() + " slurm --bids " + f.bids.string() + " --out " + f.out.string() + " --config " +
                (f.root / "missing.json").string() + " --sbatch " + f.sbatch.string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has(r.output, (f.root / "missing.json").string() + ": configuration file not found")) << r.output;
  r = test::run(exe() + " slurm --bids " + (f.root / "nobids").string() + " --out " + f.out.string() +
                " --config " + f.config.string() + " --sbatch " + f.sbatch.string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has(r.output, "nobids: BIDS directory not found")) << r.output;
  r = test::run(exe() + " slurm --out " + f.out.string() + " --config " + f.config.string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has(r.output, "--bids DIR is required")) << r.output;
  r = test::run(exe() + " slurm --status --out " + (f.root / "nowhere").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has(r.output, "nowhere: output directory not found")) << r.output;
  EXPECT_FALSE(fs::exists(f.out));
  EXPECT_FALSE(fs::exists(f.fake / "calls"));

  // sbatch rejects the script: its message is shown, nothing is recorded as submitted.
  const fs::path rejecting = f.root / "rejecting" / "sbatch";
  put(rejecting,
      "#!/bin/bash\necho 'sbatch: error: invalid partition specified: gpu' >&2\n"
      "echo 'sbatch: error: Batch job submission failed: Invalid partition name specified' >&2\nexit 1\n",
      true);
  r = test::run(f.plain() + " --partition gpu --sbatch " + rejecting.string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has(r.output, rejecting.string() + " rejected " + (f.out / "slurm" / "run-1.sbatch").string() +
                                " (exit 1): sbatch: error: invalid partition specified: gpu; sbatch: error: Batch "
                                "job submission failed: Invalid partition name specified"))
      << r.output;
  EXPECT_FALSE(fs::exists(f.out / "slurm" / "submissions.json"));
  // sbatch that answers without a job id.
  const fs::path mute = f.root / "mute" / "sbatch";
  put(mute, "#!/bin/bash\necho 'Submitted somewhere'\n", true);
  r = test::run(f.plain() + " --sbatch " + mute.string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has(r.output, "sbatch printed no job id")) << r.output;
  EXPECT_FALSE(fs::exists(f.out / "slurm" / "submissions.json"));
}
