"""coffer backup while the server serves writes, then the restore steps of docs/operations.md:
a new data dir with the backup as coffer.db and the root key beside it, started and read."""
import os
import shutil
import stat
import subprocess
import threading
import time

import pytest

from conftest import COFFER_BIN, Server, admin_caller, expect


@pytest.mark.sqlite_only("coffer backup copies the SQLite file; PostgreSQL is backed up with "
                        "pg_dump (docs/operations.md)")
def test_backup_during_writes_then_restore_and_read(server, tmp_path):
    admin = admin_caller(server)
    vault = expect(admin.post("/vaults", json={"name": "backed-up"}), 201).json()["id"]
    for i in range(20):
        expect(admin.put(f"/vaults/{vault}/secrets/before/s{i}",
                         json={"type": "password", "value": f"before-value-{i}"}), 201)

    stop = threading.Event()
    written = []
    errors = []

    def writer():
        caller = admin_caller(server)
        i = 0
        while not stop.is_set() and i < 2000:
            r = caller.put(f"/vaults/{vault}/secrets/during/s{i}",
                           json={"type": "password", "value": f"during-value-{i}"})
            if r.status_code != 201:
                errors.append(r.status_code)
            written.append(i)
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        deadline = time.time() + 30
        while len(written) < 30 and time.time() < deadline:
            time.sleep(0.01)
        out = tmp_path / "coffer-backup.db"
        result = subprocess.run([COFFER_BIN, "backup", "--data-dir", server.data_dir,
                                 "--out", str(out)], capture_output=True, text=True, timeout=120)
        written_at_backup_end = len(written)
    finally:
        stop.set()
        thread.join(60)
    assert result.returncode == 0, result.stderr
    assert "root key is not in the backup" in result.stdout
    assert not errors, f"writes failed during the backup: {errors[:5]}"
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert not os.path.exists(str(out) + "-wal")
    assert written_at_backup_end < len(written) or len(written) == 2000, \
        "the writer stopped while the backup ran"

    # A second backup to the same file is refused: backups are never overwritten.
    again = subprocess.run([COFFER_BIN, "backup", "--data-dir", server.data_dir, "--out",
                            str(out)], capture_output=True, text=True, timeout=60)
    assert again.returncode != 0 and "already exists" in again.stderr

    # Restore (docs/operations.md): new data dir, backup as coffer.db, the root key beside it.
    restored = tmp_path / "restored"
    os.makedirs(restored, mode=0o700)
    shutil.copyfile(out, restored / "coffer.db")
    os.chmod(restored / "coffer.db", 0o600)
    shutil.copyfile(os.path.join(server.data_dir, "root.key"), restored / "root.key")
    os.chmod(restored / "root.key", 0o600)
    copy = Server(str(restored), server.admin_key)
    try:
        reader = admin_caller(copy)
        for i in range(20):
            r = expect(reader.get(f"/vaults/{vault}/secrets/before/s{i}"), 200)
            assert r.json()["value"] == f"before-value-{i}"
        listed = expect(reader.get(f"/vaults/{vault}/secrets", params={"prefix": "during/",
                                                                          "limit": 1000}),
                        200).json()["secrets"]
        # A snapshot: some of the concurrent writes, each complete and readable.
        assert 0 < len(listed) <= len(written)
        for s in listed[:10]:
            i = int(s["path"].rsplit("s", 1)[1])
            r = expect(reader.get(f"/vaults/{vault}/secrets/{s['path']}"), 200)
            assert r.json()["value"] == f"during-value-{i}"
        verify = expect(reader.get("/audit/verify"), 200).json()
        assert verify["ok"] is True
        # The restored server takes writes.
        expect(reader.put(f"/vaults/{vault}/secrets/after", json={"type": "note", "value": "x"}),
               201)
    finally:
        copy.stop()


def test_backup_of_a_missing_store_fails_clearly(tmp_path):
    out = subprocess.run([COFFER_BIN, "backup", "--data-dir", str(tmp_path / "none"), "--out",
                          str(tmp_path / "b.db")], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "no database" in out.stderr
    assert not os.path.exists(tmp_path / "b.db")
