"""The anchor of bench/capsules (issue 13): the same two routes in FastAPI, as a typical Python
service would write them — uvicorn with 2 workers, `async def` handlers, SQLite in WAL mode with
synchronous=NORMAL (not durable against power loss), no authentication, no audit, no index.

    ANCHOR_DB=/tmp/anchor.db python3 -m uvicorn anchor:app --workers 2 --port 8001 --log-level warning
"""
import json
import os
import sqlite3
import time
import uuid

from fastapi import FastAPI, HTTPException, Request

DB = os.environ.get("ANCHOR_DB", "/tmp/forge-anchor.db")


def connect():
    h = sqlite3.connect(DB, isolation_level=None, check_same_thread=False, timeout=30)
    h.execute("PRAGMA journal_mode=WAL")
    h.execute("PRAGMA synchronous=NORMAL")
    h.execute("CREATE TABLE IF NOT EXISTS capsules (id TEXT PRIMARY KEY, content TEXT NOT NULL, "
              "type TEXT NOT NULL, metadata TEXT NOT NULL, created_at REAL NOT NULL)")
    return h


app = FastAPI()
db = connect()


@app.post("/api/v1/capsules", status_code=201)
async def create(request: Request):
    body = await request.json()
    content = body.get("content")
    if not isinstance(content, str) or not content:
        raise HTTPException(status_code=422, detail="content required")
    row = {"id": str(uuid.uuid4()), "content": content, "type": body.get("type", "knowledge"),
           "metadata": json.dumps(body.get("metadata", {})), "created_at": time.time()}
    db.execute("INSERT INTO capsules VALUES (:id, :content, :type, :metadata, :created_at)", row)
    return {"data": row}


@app.get("/api/v1/capsules/{cid}")
async def get(cid: str):
    r = db.execute("SELECT id, content, type, metadata, created_at FROM capsules WHERE id = ?",
                   (cid,)).fetchone()
    if not r:
        raise HTTPException(status_code=404, detail="not found")
    return {"data": {"id": r[0], "content": r[1], "type": r[2], "metadata": json.loads(r[3]),
                     "created_at": r[4]}}
