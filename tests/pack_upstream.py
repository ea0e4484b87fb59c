"""A fake upstream internet on disk, in the real on-disk formats of every file the course downloads.

`make_upstream(root)` writes `root/<host>/<url path>`, so that `https://<host>/<path>` is the file `root/<host>/<path>`;
`StaticServer(root)` serves it on 127.0.0.1 as `http://127.0.0.1:PORT/<host>/<path>`. Everything is drawn with
`course_utils.synth` (never real data), deterministically for a given seed."""
from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import json
import math
import mimetypes
import shutil
import tarfile
import tempfile
import threading
import time
import zipfile
from collections import Counter
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import numpy as np
import pandas as pd

from image_server import LoopbackServer
from course_utils import synth, synth_tables
from course_utils.search import ImageSearchError
from course_utils.synth import CELEBA_ATTRIBUTES, _bird_image, _forest_image, _photo_finish, _rng

SEARCH_QUERIES = ('bird photos', 'bird in the wild', 'flying bird photo', 'forest photos', 'forest landscape',
                  'trees in a forest photo', 'bird perched on a branch')

CAMVID_TGZ = 's3.amazonaws.com/fast-ai-sample/camvid_tiny.tgz'
ADULT_TGZ = 's3.amazonaws.com/fast-ai-sample/adult_sample.tgz'
ML100K_ZIP = 'files.grouplens.org/datasets/movielens/ml-100k.zip'
CELEBA_REPO = 'huggan/CelebA-faces-with-attributes'
CELEBA_SHARDS = f'huggingface.co/datasets/{CELEBA_REPO}/resolve/main/data'
CELEBA_LISTING = f'huggingface.co/api/datasets/{CELEBA_REPO}/tree/main/data'
WEIGHTS_FOLDER = 'download.pytorch.org/models'
PHOTOS_HOST = 'photos.example'
SEARCH_INDEX = 'search.json'

ARCHIVE_TIME = 893_203_200   # 22 April 1998, about when ml-100k came out: archives carry fixed dates, so they are reproducible


# --- small writers --------------------------------------------------------------------------------------------

def _write(root:Path, relpath:str, data:bytes) -> Path:
    "Write `data` to `root/relpath`, creating its folders."
    target = root/relpath
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return target

def _read_files(folder:Path, patterns:list[str]) -> dict[str, bytes]:
    "{path relative to `folder`: bytes} for the files matching `patterns`, in sorted order."
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for pattern in patterns for p in sorted(folder.glob(pattern)) if p.is_file()}

def _archive_entries(top:str, files:dict[str, bytes]) -> list[tuple[str, bytes|None]]:
    "(name, bytes) for each file under the single folder `top`, with (name, None) for each folder, parents first."
    folders = {top} | {f'{top}/{parent}' for name in files for parent in map(str, Path(name).parents) if parent != '.'}
    entries = [(folder, None) for folder in folders] + [(f'{top}/{name}', data) for name, data in files.items()]
    return sorted(entries, key=lambda entry: entry[0])

def _targz(top:str, files:dict[str, bytes]) -> bytes:
    "A .tgz holding `files` (relative path: bytes) under the single top folder `top`."
    buffer = io.BytesIO()
    with gzip.GzipFile(filename='', mode='wb', fileobj=buffer, mtime=ARCHIVE_TIME) as packed, \
         tarfile.open(fileobj=packed, mode='w', format=tarfile.GNU_FORMAT) as tar:
        for name, data in _archive_entries(top, files):
            info = tarfile.TarInfo(name)
            info.mtime, info.mode = ARCHIVE_TIME, 0o755 if data is None else 0o644
            if data is None: info.type = tarfile.DIRTYPE
            else: info.size = len(data)
            tar.addfile(info, None if data is None else io.BytesIO(data))
    return buffer.getvalue()

def _zip(top:str, files:dict[str, bytes]) -> bytes:
    "A .zip holding `files` (relative path: bytes) under the single top folder `top`."
    buffer, when = io.BytesIO(), time.gmtime(ARCHIVE_TIME)[:6]
    with zipfile.ZipFile(buffer, 'w') as archive:
        for name, data in _archive_entries(top, files):
            info = zipfile.ZipInfo(name + ('/' if data is None else ''), date_time=when)
            info.external_attr = (0o40755 << 16) | 0x10 if data is None else 0o644 << 16   # 0x10: MS-DOS folder flag
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, b'' if data is None else data)
    return buffer.getvalue()


# --- fastai's samples: CamVid-tiny and Adult --------------------------------------------------------------------

def camvid_tgz(work:Path, seed:int) -> bytes:
    "fastai's camvid_tiny.tgz: camvid_tiny/ with codes.txt, images/<stem>.png and labels/<stem>_P.png."
    folder = synth.synth_camvid(work/'camvid_tiny', n=80, size=(96, 128), seed=seed)
    return _targz('camvid_tiny', _read_files(folder, ['codes.txt', 'images/*.png', 'labels/*.png']))

ADULT_BLANK_SHARE = 0.015   # about how often fastai's copy leaves education-num or occupation empty

def _with_blank_cells(table:pd.DataFrame, rng) -> pd.DataFrame:
    "`table` (all text) with some education-num and occupation cells empty and education-num as floats, as in fastai's copy."
    # fastai's adult.csv starts '49, Private,101320, Assoc-acdm,12.0, Married-civ-spouse,, Wife, ...': UCI's ' ?'
    # markers are kept, and some cells were emptied, which made education-num a float column.
    blank = rng.random((len(table), 2)) < ADULT_BLANK_SHARE
    return table.assign(**{'education-num': np.where(blank[:, 0], '', table['education-num'] + '.0'),
                           'occupation': np.where(blank[:, 1], '', table['occupation'])})

def adult_tgz(work:Path, seed:int) -> bytes:
    "fastai's adult_sample.tgz: adult_sample/adult.csv with 5,000 census rows."
    folder = synth_tables.synth_adult(work/'adult_sample', n=5000, seed=seed)
    table = pd.read_csv(folder/'adult.csv', dtype=str, keep_default_na=False)   # text as written, leading spaces too
    csv_text = _with_blank_cells(table, _rng(seed, 11)).to_csv(index=False)
    return _targz('adult_sample', {'adult.csv': csv_text.encode()})


# --- MovieLens 100k ---------------------------------------------------------------------------------------------

ML_GENRES = ('unknown', 'Action', 'Adventure', 'Animation', "Children's", 'Comedy', 'Crime', 'Documentary', 'Drama',
             'Fantasy', 'Film-Noir', 'Horror', 'Musical', 'Mystery', 'Romance', 'Sci-Fi', 'Thriller', 'War', 'Western')
ML_SPECIAL_TITLES = ('Café Lumière (1996)', 'Cité des Étoiles, La (1995)', 'Smørrebrød Blues (1997)',
                     'Señor Kiss (1994)', 'Le "Grand" Départ (1997)', 'Crème Brûlée, Heist of the (1996)',
                     'Zoë, Mañana y Después (1993)')   # Latin-1 letters, commas and quotes, as in real titles
ML_UNKNOWN_ID = 267   # like ml-100k's item 267: title 'unknown', no date, no URL, genre 'unknown'
ML_FIRST_TIME, ML_LAST_TIME = 874_724_710, 893_286_638   # ml-100k's first and last rating, Sep 1997 to Apr 1998
ML_README = """SUMMARY
================================================================================

GENERATED TEST DATA, NOT MOVIELENS. Made by the course's tests (tests/pack_upstream.py) in the
layout of MovieLens 100k (ml-100k), with made-up films and ratings.

This data set consists of:
\t* {ratings:,} ratings (1-5) from {users} users on {movies} movies.
\t* Each user has rated at least 20 movies.

u.data     -- user id | item id | rating | timestamp, tab separated, unordered.
u.item     -- movie id | movie title | release date | video release date | IMDb URL |
              then 19 genre flags (u.genre); '|' separated, Latin-1 encoded.
u.genre    -- the genres and their numbers.
u.info     -- the number of users, items and ratings.
"""

def _movie_titles(rng, n:int) -> list[str]:
    "`n` titles with years: the special ones first (the most rated films), made-up ones after, 'unknown' at its id."
    years = np.clip(rng.normal(1988, 10, n), 1922, 1998).astype(int)
    made_up = [f'{title} ({year})' for title, year in zip(synth_tables._movie_titles(rng, n), years)]
    titles = list(ML_SPECIAL_TITLES) + made_up[len(ML_SPECIAL_TITLES):]
    if n >= ML_UNKNOWN_ID: titles[ML_UNKNOWN_ID - 1] = 'unknown'
    return titles

def _item_line(item_id:int, title:str, genres:np.ndarray) -> str:
    "One u.item line: id|title|release date|video release date|IMDb URL|19 genre flags."
    if title == 'unknown': date = url = ''
    else: date, url = f'01-Jan-{title[-5:-1]}', 'http://us.imdb.com/M/title-exact?' + quote(title, safe='(),', encoding='latin-1')
    return '|'.join([str(item_id), title, date, '', url, *('1' if g else '0' for g in genres)])

def _movie_genres(rng, titles:list[str]) -> np.ndarray:
    "A True/False (movie, genre) table: one to three genres per movie, 'unknown' only for the unknown one."
    genres = rng.random((len(titles), len(ML_GENRES))) < 0.12
    genres[:, 0] = False
    genres[np.arange(len(titles)), rng.integers(1, len(ML_GENRES), len(titles))] = True
    unknown = np.array([t == 'unknown' for t in titles])
    genres[unknown], genres[unknown, 0] = False, True
    return genres

def _ratings_per_user(rng, n_users:int, n_movies:int, n_ratings:int, least:int) -> np.ndarray:
    "How many movies each user rates: at least `least`, at most `n_movies`, `n_ratings` in all, some users far busier."
    activity = rng.lognormal(0, 0.8, n_users)
    counts = np.minimum(least + rng.multinomial(n_ratings - least*n_users, activity/activity.sum()), n_movies)
    while counts.sum() < n_ratings: counts[np.argmin(counts)] += 1   # only when a user hit `n_movies`
    return counts

def _rated_pairs(rng, counts:np.ndarray, popularity:np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    "(user index, movie index) of every rating: each user's `counts` distinct movies, popular ones more often."
    keys = np.log(popularity) + rng.gumbel(size=(len(counts), len(popularity)))   # Gumbel top-k sampling
    chosen = np.argsort(-keys, axis=1)
    return np.repeat(np.arange(len(counts)), counts), np.concatenate([chosen[u, :c] for u, c in enumerate(counts)])

def _stars(rng, users, movies, popularity:np.ndarray) -> np.ndarray:
    "Whole-star ratings from user and movie biases and 3 latent factors, plus noise, rounded and clipped to 1..5."
    n_users, n_movies = users.max() + 1, len(popularity)
    user_bias, movie_bias = rng.normal(0, 0.45, n_users), rng.normal(0, 0.45, n_movies) + 0.25*np.log(popularity)
    tastes, traits = rng.normal(0, 0.7, (n_users, 3)), rng.normal(0, 0.7, (n_movies, 3))
    raw = (3.6 + user_bias[users] + movie_bias[movies] - 0.25*np.log(popularity).mean()
           + (tastes[users]*traits[movies]).sum(axis=1) + rng.normal(0, 0.5, len(users)))
    return np.clip(np.rint(raw), 1, 5).astype(int)

def _rating_times(rng, users) -> np.ndarray:
    "A Unix time for each rating: each user rates in a burst from their own start day."
    start = rng.uniform(ML_FIRST_TIME, ML_LAST_TIME - 30*86_400, users.max() + 1)
    return np.minimum(start[users] + rng.exponential(7*86_400, len(users)), ML_LAST_TIME).astype(np.int64)

def movielens_zip(seed:int, n_users:int=300, n_movies:int=400, n_ratings:int=20_000, least:int=20) -> bytes:
    "ml-100k.zip: ml-100k/ with u.data, u.item (Latin-1), u.genre, u.info and a README saying it is generated."
    rng = _rng(seed, 12)
    titles = _movie_titles(rng, n_movies)
    popularity = np.exp(-np.arange(n_movies)/150)*rng.lognormal(0, 0.5, n_movies)   # low ids popular, as in ml-100k
    users, movies = _rated_pairs(rng, _ratings_per_user(rng, n_users, n_movies, n_ratings, least), popularity)
    stars, times = _stars(rng, users, movies, popularity), _rating_times(rng, users)
    order = rng.permutation(len(users))   # u.data is in no particular order
    data = ''.join(f'{u + 1}\t{m + 1}\t{s}\t{t}\n' for u, m, s, t in zip(users[order], movies[order], stars[order], times[order]))
    items = ''.join(_item_line(i + 1, title, g) + '\n' for i, (title, g) in enumerate(zip(titles, _movie_genres(rng, titles))))
    return _zip('ml-100k', {
        'README': ML_README.format(ratings=n_ratings, users=n_users, movies=n_movies).encode(),
        'u.data': data.encode(), 'u.item': items.encode('latin-1'),
        'u.genre': (''.join(f'{g}|{i}\n' for i, g in enumerate(ML_GENRES)) + '\n').encode(),
        'u.info': f'{n_users} users\n{n_movies} items\n{n_ratings} ratings\n'.encode()})


# --- CelebA on the Hugging Face Hub -----------------------------------------------------------------------------

CELEBA_FEATURES = {'image': {'_type': 'Image'}, 'label': {'names': ['img_align_celeba'], '_type': 'ClassLabel'},
                   'image_id': {'dtype': 'string', '_type': 'Value'},
                   **{a: {'dtype': 'int64', '_type': 'Value'} for a in CELEBA_ATTRIBUTES}}

def celeba_shard_name(i:int) -> str: return f'train-{i:05d}-of-00132.parquet'

def _parquet_shard(rows:pd.DataFrame, images:Path) -> bytes:
    "One Hub shard: image {bytes, path}, label, image_id and the 40 attributes as int64 -1/1 (the datasets schema)."
    import pyarrow as pa
    import pyarrow.parquet as pq
    names = list(rows['image_id'])
    table = pa.table({
        'image': pa.array([{'bytes': (images/name).read_bytes(), 'path': name} for name in names],
                          pa.struct([('bytes', pa.binary()), ('path', pa.string())])),
        'label': pa.array([0]*len(names), pa.int64()), 'image_id': pa.array(names, pa.string()),
        **{a: pa.array(rows[a].to_numpy(np.int64)) for a in CELEBA_ATTRIBUTES}})
    table = table.replace_schema_metadata({'huggingface': json.dumps({'info': {'features': CELEBA_FEATURES}})})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()

def celeba_shards(work:Path, faces:int, per_shard:int, size:int, seed:int) -> dict[str, bytes]:
    "{shard name: Parquet bytes} for `faces` drawn faces, `per_shard` in each, numbered 000001.jpg on across shards."
    folder = synth.synth_faces(work/'celeba', n=faces, size=size, seed=seed)
    table = pd.read_csv(folder/'list_attr_celeba.csv')
    return {celeba_shard_name(i): _parquet_shard(table.iloc[i*per_shard:(i + 1)*per_shard], folder/'img_align_celeba')
            for i in range(math.ceil(faces/per_shard))}

def _lfs_entry(path:str, body:bytes) -> dict:
    "The Hub API's listing entry for an LFS file: the git id of its pointer, its size, and the LFS object's id and size."
    sha256 = hashlib.sha256(body).hexdigest()
    pointer = f'version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {len(body)}\n'.encode()
    git_id = hashlib.sha1(b'blob %d\0' % len(pointer) + pointer).hexdigest()
    return {'type': 'file', 'oid': git_id, 'size': len(body),
            'lfs': {'oid': sha256, 'size': len(body), 'pointerSize': len(pointer)}, 'path': path}

def celeba_listing(shards:dict[str, bytes]) -> bytes:
    "GET /api/datasets/<repo>/tree/main/data: a JSON list with one entry per shard, compact as the Hub sends it."
    entries = [_lfs_entry(f'data/{name}', body) for name, body in shards.items()]
    return json.dumps(entries, separators=(',', ':')).encode()


# --- torchvision weights -----------------------------------------------------------------------------------------

def weights_file_name(arch:str) -> str:
    "The file name torchvision downloads `arch`'s default weights as, e.g. 'resnet18-f37072fd.pth'."
    from torchvision.models import get_model_weights
    return Path(get_model_weights(arch).DEFAULT.url).name

def write_weights(root:Path, arch:str, seed:int) -> str:
    "Save randomly initialised weights for `arch` where torchvision downloads them from; their relative path."
    import torch
    import torchvision
    relpath = f'{WEIGHTS_FOLDER}/{weights_file_name(arch)}'
    (root/relpath).parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    torch.save(getattr(torchvision.models, arch)(weights=None).state_dict(), root/relpath)
    return relpath


# --- image search results ----------------------------------------------------------------------------------------

PHOTO_SIZE = 160
HTML_PAGE = (b'<!DOCTYPE html>\n<html><head><title>Access denied</title></head>\n'
             b'<body><h1>Access denied</h1><p>Hotlinking of images is not allowed.</p></body></html>\n')

def _jpeg(img, quality:int=90) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, 'JPEG', quality=quality)
    return buffer.getvalue()

def _draw_scene(query:str):
    "The synth drawing function for a query: birds for a bird query, forests for the others."
    return _bird_image if 'bird' in query else _forest_image

def _photo(query:str, rng) -> bytes:
    "A JPEG of the scene `query` asks for, finished like a photo (blur, light, noise)."
    return _jpeg(_photo_finish(_draw_scene(query)(rng, PHOTO_SIZE), rng, noise=(2, 12), blur=(0, 0.8)))

def _broken_image(kind:int, query:str, rng) -> bytes:
    "A file that a search result calls an image but isn't one: an HTML page, a truncated JPEG, or nothing."
    if kind % 3 == 0: return HTML_PAGE
    if kind % 3 == 1:
        whole = _photo(query, rng)
        return whole[:len(whole)//3]
    return b''

def _with_broken_early(good:list[str], broken:list[str]) -> list[str]:
    "`good` with the `broken` paths put in at positions 2, 7, 12...: early, so that even a small search meets them."
    listing = list(good)
    for k, path in enumerate(broken): listing.insert(min(2 + 5*k, len(listing)), path)
    return listing

def search_results(root:Path, queries:tuple[str, ...], per_query:int, broken:int, seed:int) -> dict[str, list[str]]:
    "Write each query's photos (and its broken ones) under photos.example/<slug>/; {query: relative paths, in order}."
    results = {}
    for q, query in enumerate(queries):
        folder = f"{PHOTOS_HOST}/{query.replace(' ', '-')}"
        good = [_write(root, f'{folder}/{i:03d}.jpg', _photo(query, _rng(seed, 70, q, i))) for i in range(per_query)]
        bad = [_write(root, f'{folder}/broken-{k}.jpg', _broken_image(k, query, _rng(seed, 71, q, k))) for k in range(broken)]
        results[query] = _with_broken_early([p.relative_to(root).as_posix() for p in good],
                                            [p.relative_to(root).as_posix() for p in bad])
    return results


# --- all of it ------------------------------------------------------------------------------------------------------

def _timed(seconds:dict, part:str, make, *args, **kwargs):
    "`make(*args, **kwargs)`, noting in `seconds[part]` how long it took."
    start = time.perf_counter()
    try: return make(*args, **kwargs)
    finally: seconds[part] = round(time.perf_counter() - start, 3)

def _write_celeba(root:Path, work:Path, faces:int, per_shard:int, size:int, seed:int):
    "The shards where the Hub serves them, and the Hub API's listing of them."
    shards = celeba_shards(work, faces, per_shard, size, seed)
    for name, body in shards.items(): _write(root, f'{CELEBA_SHARDS}/{name}', body)
    _write(root, CELEBA_LISTING, celeba_listing(shards))

def make_upstream(root:Path, *, faces:int=2100, faces_per_shard:int=750, face_size:int=64,
                  images_per_query:int=52, broken_per_query:int=2, queries:tuple[str, ...]=SEARCH_QUERIES,
                  archs:tuple[str, ...]=('resnet18', 'efficientnet_b0'), seed:int=0) -> dict:
    "Write the fake upstream under `root`; {'files': {relpath: size}, 'search': {query: [relpath]}, 'seconds': {part: s}}."
    root, seconds = Path(root), {}
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        _timed(seconds, 'camvid', lambda: _write(root, CAMVID_TGZ, camvid_tgz(work, seed)))
        _timed(seconds, 'adult', lambda: _write(root, ADULT_TGZ, adult_tgz(work, seed)))
        _timed(seconds, 'movielens', lambda: _write(root, ML100K_ZIP, movielens_zip(seed)))
        _timed(seconds, 'celeba', _write_celeba, root, work, faces, faces_per_shard, face_size, seed)
    _timed(seconds, 'weights', lambda: [write_weights(root, arch, seed) for arch in archs])
    search = _timed(seconds, 'search', search_results, root, queries, images_per_query, broken_per_query, seed)
    (root/SEARCH_INDEX).write_text(json.dumps(search, indent=1) + '\n')
    files = {p.relative_to(root).as_posix(): p.stat().st_size for p in sorted(root.rglob('*')) if p.is_file()}
    return {'files': files, 'search': search, 'seconds': seconds}


# --- serving it -------------------------------------------------------------------------------------------------------

class StaticServer(LoopbackServer):
    "Serves the files under `root` on 127.0.0.1; counts requests per path in `self.hits` (a Counter); 404 otherwise; at most MAX_REQUESTS requests."
    def __init__(self, root:Path, max_requests:int=5000):
        self.root, self.max_requests = Path(root).resolve(), max_requests
        self.hits, self.requests, self._lock = Counter(), 0, threading.Lock()
        self._start_server()

    def url(self, relpath:str) -> str:
        "The address of the file `root/relpath` on this server."
        return f'{self.base}/{quote(relpath)}'

    def admit(self, relpath:str) -> bool:
        "Count a request for `relpath` in `hits`; False once more than `max_requests` have come."
        with self._lock:   # requests arrive on several threads at once
            self.requests += 1
            if self.requests > self.max_requests: return False
            self.hits[relpath] += 1
            return True

    def locate(self, relpath:str) -> tuple[int, Path|None]:
        "(200, the file) for a file under root; (403, None) for a path that leads out of root; (404, None) otherwise."
        target = (self.root/relpath).resolve()
        if not target.is_relative_to(self.root): return 403, None
        return (200, target) if target.is_file() else (404, None)

    def _handler(self):
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'
            def log_message(self, *args): pass
            def do_GET(self): self._answer(with_body=True)
            def do_HEAD(self): self._answer(with_body=False)

            def _answer(self, with_body:bool):
                relpath = unquote(urlsplit(self.path).path).lstrip('/')
                if not owner.admit(relpath):
                    self.close_connection = True   # hang up without a word: a runaway client stops here
                    return
                status, target = owner.locate(relpath)
                if target is None: return self._send_text(status, {403: b'forbidden', 404: b'not found'}[status], with_body)
                self.send_response(200)
                self.send_header('Content-Type', _content_type(relpath))
                self.send_header('Content-Length', str(target.stat().st_size))
                self.end_headers()
                if not with_body: return
                try:
                    with open(target, 'rb') as f: shutil.copyfileobj(f, self.wfile, 2**20)
                except OSError: self.close_connection = True   # the client gave up early, which is its right

            def _send_text(self, status:int, body:bytes, with_body:bool):
                self.send_response(status)
                self.send_header('Content-Type', 'text/plain')
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                if with_body: self.wfile.write(body)

        return Handler

def _content_type(relpath:str) -> str:
    "The Content-Type to send for `relpath`: JSON for the Hub's API, else by the file's extension."
    if relpath.startswith('huggingface.co/api/') or relpath.endswith('.json'): return 'application/json'
    # Only the type, never the encoding: a .tgz sent with Content-Encoding: gzip would be unpacked by the client.
    return mimetypes.guess_type(relpath)[0] or 'application/octet-stream'

def fake_search(server:StaticServer, root:Path):
    "A stand-in for `search_images` answering from `root/search.json` with `server`'s URLs; ImageSearchError for other terms."
    results = json.loads((Path(root)/SEARCH_INDEX).read_text())
    def search(term:str, max_images:int=200) -> list[str]:
        "The first `max_images` image URLs for `term`."
        if term not in results: raise ImageSearchError(f'no results for {term!r}: the fake search knows only {sorted(results)}.')
        return [server.url(relpath) for relpath in results[term][:max_images]]
    return search
