// run.mjs: run OpenMV camera scripts on the real MicroPython VM (@micropython/micropython-webassembly-pyscript)
// with the stand-in OpenMV modules of stubs/ for one firmware tag (tests/test_scripts_micropython.py).
//
//   node run.mjs --firmware 4.7.0 [--frames 60] [--drive FILE_OR_DIR]... SCRIPT.py
//       runs SCRIPT.py as main.py on the emulated camera drive; prints its output; exit 0 when it ended or was
//       stopped by the frame budget, 1 with the traceback on an uncaught exception, 2 on a usage error.
//   node run.mjs --batch CASES.json
//       CASES.json: [{"id", "script", "firmware", "frames"?, "drive"?: [paths]}]; one VM per case, one process;
//       prints one JSON line per case: {"id", "status": "ok"|"stopped"|"crash", "error", "output"}.
//
// Drives per tag (what `os.listdir("/")` and the working directory are on an OpenMV Cam H7 with an SD card):
// v4.5.6 mounts the SD card at "/" (src/omv/ports/stm32/main.c); v4.7.0+ mount /flash and /sdcard and have ROMFS at
// /rom with the Haar cascades (ports/stm32/main.c looks up "/sdcard"); the script runs on the SD card.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript/micropython.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const STUBS = path.join(HERE, "stubs");
const TAGS = ["4.5.6", "4.7.0", "4.8.1", "5.0.0"];
const STUB_DIR = "/tmp/omvstubs"; // under /tmp, which the os stand-in hides from listdir("/")
const ROM_FILES = ["haarcascade_frontalface.cascade", "haarcascade_eye.cascade", "fomo_face_detection.tflite"];

function copyTree(FS, src, dst) {
  FS.mkdirTree(dst);
  for (const name of fs.readdirSync(src)) {
    const s = path.join(src, name);
    if (fs.statSync(s).isDirectory()) copyTree(FS, s, `${dst}/${name}`);
    else if (name.endsWith(".py")) FS.writeFile(`${dst}/${name}`, fs.readFileSync(s));
  }
}

function driveFiles(entries) {
  const files = [];
  for (const entry of entries || []) {
    if (fs.statSync(entry).isDirectory()) {
      for (const name of fs.readdirSync(entry)) {
        const p = path.join(entry, name);
        if (fs.statSync(p).isFile()) files.push(p);
      }
    } else files.push(entry);
  }
  return files;
}

function pyStr(s) {
  return JSON.stringify(s); // a JSON string is a valid Python string literal for these paths
}

async function runCase({ script, firmware, frames = 60, drive = [], outputs = 2, maxVirtualMs = 3_600_000 }) {
  if (!TAGS.includes(firmware)) throw new Error(`firmware ${firmware}: use one of ${TAGS.join(", ")}`);
  const output = [];
  const mp = await loadMicroPython({
    heapsize: 8 * 1024 * 1024,
    stdout: (line) => output.push(line),
    stderr: (line) => output.push(line),
  });
  const FS = mp.FS;
  copyTree(FS, STUBS, STUB_DIR);
  const fw = firmware.split(".").map(Number);
  FS.writeFile(`${STUB_DIR}/_omvfw.py`,
    `FIRMWARE = (${fw.join(", ")})\nFRAMES = ${frames}\nMAX_VIRTUAL_MS = ${maxVirtualMs}\nOUTPUTS = ${outputs}\n`);
  let sd;
  if (firmware === "4.5.6") {
    sd = "/";
    FS.writeFile("/.openmv_disk", ""); // src/omv/ports/stm32/main.c v4.5.6: file_ll_touch("/.openmv_disk")
  } else {
    for (const d of ["/flash", "/sdcard", "/rom"]) FS.mkdir(d);
    for (const name of ROM_FILES) FS.writeFile(`/rom/${name}`, "stand-in ROMFS file\n");
    sd = "/sdcard";
  }
  for (const file of driveFiles(drive)) FS.writeFile(`${sd === "/" ? "" : sd}/${path.basename(file)}`, fs.readFileSync(file));
  FS.writeFile(`${sd === "/" ? "" : sd}/main.py`, fs.readFileSync(script));

  const legacyCsi = fw[0] === 4 && fw[1] >= 6 && fw[1] < 8;
  const boot = `
import sys
import os as _os
sys.modules["_host_os"] = _os
for _n in ("os", "os.path", "time"):
    if _n in sys.modules:
        del sys.modules[_n]
sys.path.insert(0, ${pyStr(STUB_DIR)})
import _omvsim
import builtins
builtins.open = _omvsim.vfs_open  # the camera's errno numbers for the scripts' own open() too
if ${legacyCsi ? "True" : "False"}:
    import sensor
    sys.modules["csi"] = sensor  # modules/py_csi.c v4.7.0: MP_REGISTER_MODULE(MP_QSTR_csi, omv_csi_module)
_os.chdir(${pyStr(sd)})
del _os, _n
`;
  const run = `
try:
    exec(compile(open("main.py").read(), "main.py", "exec"), {"__name__": "__main__"})
except _omvsim.StopRun as _e:
    print("[mpvm] stopped:", _e)
`;
  try {
    mp.runPython(boot);
  } catch (e) {
    return { status: "crash", error: `harness boot failed: ${e.message}`, output: output.join("\n") };
  }
  try {
    mp.runPython(run);
  } catch (e) {
    const lines = String(e.message || e).trim().split("\n");
    return { status: "crash", error: lines[lines.length - 1], traceback: String(e.message || e), output: output.join("\n") };
  }
  const stopped = output.some((l) => l.startsWith("[mpvm] stopped:"));
  return { status: stopped ? "stopped" : "ok", error: "", output: output.join("\n") };
}

function usage(msg) {
  process.stderr.write(`${msg}\nusage: node run.mjs --firmware {${TAGS.join(",")}} [--frames N] [--drive PATH]... SCRIPT.py\n` +
    "       node run.mjs --batch CASES.json\n");
  process.exit(2);
}

async function main(argv) {
  const opts = { drive: [] };
  let script = null;
  let batch = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--firmware") opts.firmware = argv[++i];
    else if (a === "--frames") opts.frames = Number(argv[++i]);
    else if (a === "--outputs") opts.outputs = Number(argv[++i]);
    else if (a === "--drive") opts.drive.push(argv[++i]);
    else if (a === "--batch") batch = argv[++i];
    else if (a.startsWith("--")) usage(`unknown option ${a}`);
    else script = a;
  }
  if (batch) {
    const cases = JSON.parse(fs.readFileSync(batch, "utf8"));
    for (const c of cases) {
      let r;
      try {
        r = await runCase(c);
      } catch (e) {
        r = { status: "crash", error: `harness error: ${e.message}`, output: "" };
      }
      process.stdout.write(JSON.stringify({ id: c.id, ...r }) + "\n");
    }
    return 0;
  }
  if (!script || !opts.firmware) usage("give --firmware and a script");
  if (!TAGS.includes(opts.firmware)) usage(`--firmware ${opts.firmware}: use one of ${TAGS.join(", ")}`);
  if (!fs.existsSync(script)) usage(`${script}: no such script`);
  const r = await runCase({ script, ...opts });
  if (r.output) process.stdout.write(r.output + "\n");
  if (r.status === "crash") {
    process.stderr.write((r.traceback || r.error) + "\n");
    return 1;
  }
  return 0;
}

main(process.argv.slice(2)).then((code) => process.exit(code), (e) => {
  process.stderr.write(`run.mjs: ${e.message}\n`);
  process.exit(2);
});
