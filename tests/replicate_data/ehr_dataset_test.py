#!/usr/bin/python3
"""scripts/ehr-dataset at ~5 MiB: the size, that each kind of file is what it
claims (FHIR R4 NDJSON with consistent references, HL7 v2 starting with MSH,
DICOM that pydicom reads and that carries a synthetic patient, a journal whose
records check out), the same bytes for the same seed, clear errors on bad
arguments, and --grow-journal's appends as it reports them.
Usage: ehr_dataset_test.py PATH/TO/ehr-dataset"""

import glob
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest
import warnings
import zlib

try:
    import pydicom
    import pydicom.data
except ImportError:
    # Not a skip: the dataset needs it, and scripts/bootstrap installs it.
    sys.exit("ehr_dataset_test: pydicom is missing (apt-get install python3-pydicom)")

SCRIPT = None
SIZE = 5 * 1024 * 1024


def run(*args, check=True):
    p = subprocess.run([SCRIPT, *args], capture_output=True, text=True, timeout=300)
    if check and p.returncode != 0:
        raise AssertionError(f"{args} exited {p.returncode}: {p.stderr}")
    return p


def files(root):
    out = {}
    for dirpath, _, names in os.walk(root):
        for n in names:
            path = os.path.join(dirpath, n)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return out


class EhrDataset(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="ehr-dataset-test-")
        cls.out = os.path.join(cls.tmp.name, "a")
        run(cls.out, "--size", "5M", "--seed", "3", "--quiet")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_size_within_ten_percent(self):
        total = sum(os.path.getsize(os.path.join(d, n))
                    for d, _, ns in os.walk(self.out) for n in ns)
        self.assertLess(abs(total - SIZE), SIZE // 10, total)
        for kind in ("fhir", "hl7", "dicom", "journal"):
            self.assertTrue(glob.glob(os.path.join(self.out, kind, "**", "*.*"), recursive=True),
                            kind)

    def fhir(self, rtype):
        paths = sorted(glob.glob(os.path.join(self.out, "fhir", f"{rtype}*.ndjson")))
        self.assertTrue(paths, rtype)
        for path in paths:
            with open(path, "rb") as f:
                for n, line in enumerate(f, 1):
                    r = json.loads(line)  # every line one JSON resource
                    self.assertIsInstance(r.get("resourceType"), str, f"{path}:{n}")
                    self.assertEqual(r["resourceType"], rtype, f"{path}:{n}")
                    self.assertTrue(r["id"])
                    yield r

    def test_fhir_ndjson_and_references(self):
        patients = {r["id"]: r for r in self.fhir("Patient")}
        encounters = {}
        for e in self.fhir("Encounter"):
            self.assertEqual(e["subject"]["reference"].split("/")[0], "Patient")
            self.assertIn(e["subject"]["reference"].split("/")[1], patients)
            self.assertIn(e["status"], ("planned", "in-progress", "finished", "cancelled"))
            encounters[e["id"]] = e
        n = 0
        for o in self.fhir("Observation"):
            self.assertIn(o["subject"]["reference"][len("Patient/"):], patients)
            enc = encounters[o["encounter"]["reference"][len("Encounter/"):]]
            self.assertEqual(enc["subject"], o["subject"])
            self.assertIn("value", o["valueQuantity"])
            n += 1
        self.assertGreater(n, len(patients))
        for p in patients.values():
            self.assertEqual(p["meta"]["tag"][0]["code"], "HTEST")  # marked as test data
            self.assertIn(p["gender"], ("male", "female"))
            self.assertRegex(p["birthDate"], r"^\d{4}-\d{2}-\d{2}$")

    def mrns(self):
        return {p["identifier"][0]["value"] for p in self.fhir("Patient")}

    def test_hl7_messages(self):
        mrns = self.mrns()
        paths = glob.glob(os.path.join(self.out, "hl7", "*.hl7"))
        self.assertTrue(any("adt_a01" in p for p in paths) and any("oru_r01" in p for p in paths))
        for path in paths:
            with open(path, "rb") as f:
                data = f.read()
            self.assertTrue(data.startswith(b"MSH|^~\\&|"), path)
            self.assertNotIn(b"\n", data)  # segments are separated by \r
            segments = data.rstrip(b"\r").split(b"\r")
            for s in segments:
                self.assertRegex(s, rb"^(MSH|EVN|PID|PV1|OBR|OBX)\|", path)
                if s.startswith(b"PID|"):
                    self.assertIn(s.split(b"|")[3].split(b"^")[0].decode(), mrns)
            kinds = {s.split(b"|")[8] for s in segments if s.startswith(b"MSH")}
            self.assertEqual(len(kinds), 1)
            if b"ORU" in kinds.pop():
                self.assertTrue(any(s.startswith(b"OBX|") for s in segments))

    def test_dicom_carries_synthetic_patients(self):
        warnings.simplefilter("ignore")
        mrns = self.mrns()
        originals = {"names": set(), "ids": set(), "studies": set()}
        root = os.path.join(os.path.dirname(pydicom.data.__file__), "test_files")
        for path in glob.glob(os.path.join(root, "*.dcm")):
            try:
                ds = pydicom.dcmread(path, stop_before_pixels=True)
            except Exception:  # pylint: disable=broad-except
                continue
            originals["names"].add(str(ds.get("PatientName", "")))
            originals["ids"].add(str(ds.get("PatientID", "")))
            originals["studies"].add(str(ds.get("StudyInstanceUID", "")))
        paths = glob.glob(os.path.join(self.out, "dicom", "*", "*", "*.dcm"))
        self.assertGreater(len(paths), 10)
        sops = set()
        for path in paths:
            ds = pydicom.dcmread(path)
            self.assertIn("PixelData", ds, path)
            self.assertIn(ds.PatientID, mrns, path)
            self.assertNotIn(ds.PatientID, originals["ids"], path)
            self.assertNotIn(str(ds.PatientName), originals["names"], path)
            self.assertNotIn(ds.StudyInstanceUID, originals["studies"], path)
            self.assertEqual(ds.file_meta.MediaStorageSOPInstanceUID, ds.SOPInstanceUID)
            sops.add(ds.SOPInstanceUID)
        self.assertEqual(len(sops), len(paths))  # every instance has its own UID

    def test_journal_records(self):
        with open(os.path.join(self.out, "journal", "wal.log"), "rb") as f:
            data = f.read()
        self.assertEqual(data[:8], b"SRDXWAL1")
        off, lsn = 8, 0
        while off < len(data):
            length, crc, rec_lsn = struct.unpack_from("<IIQ", data, off)
            payload = data[off + 16: off + 16 + length]
            self.assertEqual(len(payload), length)
            self.assertEqual(zlib.crc32(payload, zlib.crc32(data[off + 8: off + 16])), crc)
            self.assertEqual(rec_lsn, lsn + 1)
            lsn, off = rec_lsn, off + 16 + length
        self.assertGreater(lsn, 100)

    def test_same_seed_same_bytes(self):
        again = os.path.join(self.tmp.name, "b")
        run(again, "--size", "5M", "--seed", "3", "--quiet")
        self.assertEqual(files(self.out), files(again))
        other = os.path.join(self.tmp.name, "c")
        run(other, "--size", "5M", "--seed", "4", "--quiet")
        self.assertNotEqual(files(self.out)["fhir/Patient.ndjson"],
                            files(other)["fhir/Patient.ndjson"])
        # --force replaces the dataset in a non-empty OUT.
        run(other, "--size", "5M", "--seed", "3", "--quiet", "--force")
        self.assertEqual(files(self.out), files(other))

    def test_bad_arguments_are_refused_clearly(self):
        empty = os.path.join(self.tmp.name, "empty")
        cases = [
            ([empty, "--size", "5Q"], "is not a size"),
            ([empty, "--size=-3M"], "is not a size"),
            ([empty, "--size", "10K"], "below the minimum"),
            ([empty], "nothing to do"),
            ([empty, "--size", "1M", "--for", "3"], "--for goes with --grow-journal"),
            ([empty, "--grow-journal", "1M", "--for", "0"], "more than 0"),
            ([self.out, "--size", "1M"], "exists and is not empty"),
            ([empty, "--grow-journal", "1M", "--for", "1"], "does not exist"),
        ]
        for args, message in cases:
            p = run(*args, check=False)
            self.assertNotEqual(p.returncode, 0, args)
            self.assertIn("ehr-dataset: error:", p.stderr, args)
            self.assertIn(message, p.stderr, args)
            self.assertNotIn("Traceback", p.stderr, args)
        self.assertFalse(os.path.exists(empty))
        p = run("--help")
        for word in ("FHIR R4", "HL7", "DICOM", "wal.log", "--grow-journal", "NO real patient"):
            self.assertIn(word, p.stdout)

    def test_grow_journal_appends_what_it_reports(self):
        out = os.path.join(self.tmp.name, "grow")
        run(out, "--size", "300K", "--quiet")
        wal = os.path.join(out, "journal", "wal.log")
        before = os.path.getsize(wal)
        p = run(out, "--grow-journal", "100K", "--for", "1")
        appends = [json.loads(line) for line in p.stdout.splitlines()]
        self.assertGreaterEqual(len(appends), 5)
        with open(wal, "rb") as f:
            data = f.read()
        expect = before
        for a in appends:
            self.assertEqual(a["offset"], expect)
            chunk = data[a["offset"]: a["offset"] + a["bytes"]]
            self.assertEqual(hashlib.sha256(chunk).hexdigest(), a["sha256"])
            expect += a["bytes"]
        self.assertEqual(expect, len(data))
        grown = len(data) - before
        self.assertTrue(80 * 1024 <= grown <= 140 * 1024, grown)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    SCRIPT = sys.argv.pop(1)
    unittest.main(verbosity=2)
