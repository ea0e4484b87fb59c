"""A learner's install on Colab and Kaggle: `pip install` of the course changes nothing those images already have
(or, for the dev extra on Kaggle, moves to a combination known to train), and the course then trains and shows its
widgets with those images' fastai, fastcore and ipywidgets.

These tests use the package index (PyPI), as a learner's install does, and nothing else on the network. They fail
when the index can't be reached, so that CI can't pass by skipping them; offline, set COURSE_SKIP_INDEX_TESTS=1.
Find them with `-m package_index`."""
import functools
import json
import math
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from conftest import REPO
from course_utils.quiz import load_quiz

pytestmark = [pytest.mark.package_index, pytest.mark.xdist_group('package_index')]   # one worker reuses the venvs


@dataclass
class Image:
    "What a cloud notebook image has installed, as far as a learner's install of the course can reach."
    name: str
    python: str                # its Python, major.minor
    has: dict[str, str]        # installed packages the install reaches -> version
    not_on_image: set[str]     # packages the install adds, which the image doesn't have
    run: list[str]             # the image's packages installed over CI's venv to train with (fastai and around it)


# Colab, August 2026. Python, torch, torchvision, fastai, fastcore and ipywidgets were measured on a runtime. The rest
# is from Colab's published `pip freeze` (github.com/googlecolab/backend-info, pip-freeze.gpu.txt at commit 03a8903,
# the newest found: torch 2.11.0+cu128, still Python 3.12), except numpy and pandas: that freeze's numpy 2.0.2 and
# pandas 2.2.2 have no Python 3.13 wheels, so a 3.13 image has newer ones; we assume the first releases with 3.13
# wheels (numpy 2.1.3, pandas 2.2.3), the oldest it can have and so the strictest test of our floors.
COLAB = Image(
    'colab', '3.13',
    has={'torch': '2.11.0+cu128', 'torchvision': '0.26.0+cu128', 'fastai': '2.8.8', 'fastcore': '2.2.12',
         'ipywidgets': '7.7.1', 'numpy': '2.1.3', 'pandas': '2.2.3', 'pillow': '11.3.0', 'matplotlib': '3.10.0',
         'ipython': '7.34.0', 'requests': '2.32.4', 'pyyaml': '6.0.3', 'pyarrow': '18.1.0', 'fastprogress': '1.1.6',
         'click': '8.4.1', 'lxml': '6.1.1', 'urllib3': '2.5.0'},
    not_on_image={'ddgs', 'primp'},
    run=['fastai==2.8.8', 'fastcore==2.2.12', 'fasttransform==0.0.2', 'fastdownload==0.0.7', 'fastprogress==1.1.6',
         'python-fasthtml==0.12.50', 'fastlite==0.2.4', 'apswutils==0.1.2', 'apsw==3.53.1.0',
         'ipywidgets==7.7.1', 'ipython-genutils==0.2.0'])   # ipywidgets 7 imports ipython_genutils

# Kaggle, August 2026 (image v170: Python 3.12, torch 2.10.0+cu128). Kaggle builds on a Colab base image and then
# installs github.com/Kaggle/docker-python's kaggle_requirements.txt with uv. So: Colab's freeze of that base
# (backend-info pip-freeze.gpu.txt at commit 4647a1d: torch 2.10.0+cu128, torchvision 0.25.0+cu128, fastai 2.8.7),
# with Kaggle's own pins over it: ipywidgets==8.1.5, and fastcore<2 because fastai 2.8.7 can't train with fastcore 2
# (`'list' object has no attribute 'starmap'`, fastai issue #4154). Which fastcore 1.x Kaggle ended up with wasn't
# published anywhere we could find: we assume 1.14.5, the last 1.x and what `fastcore<2` resolves to when the build
# has to move fastcore (fastai 2.8.8 needs fastcore>=1.14.6, so under that cap fastai stays at 2.8.7).
KAGGLE = Image(
    'kaggle', '3.12',
    has={'torch': '2.10.0+cu128', 'torchvision': '0.25.0+cu128', 'fastai': '2.8.7', 'fastcore': '1.14.5',
         'ipywidgets': '8.1.5', 'numpy': '2.0.2', 'pandas': '2.2.2', 'pillow': '11.3.0', 'matplotlib': '3.10.0',
         'ipython': '7.34.0', 'requests': '2.32.4', 'pyyaml': '6.0.3', 'pyarrow': '18.1.0', 'fastprogress': '1.1.5',
         'click': '8.3.1', 'lxml': '6.0.2', 'urllib3': '2.5.0'},
    not_on_image={'ddgs', 'primp'},
    # fastprogress 1.1 imports python-fasthtml, whose newer releases need fastcore 2: Kaggle's older ones don't.
    run=['fastai==2.8.7', 'fastcore==1.14.5', 'fasttransform==0.0.2', 'fastdownload==0.0.7', 'fastprogress==1.1.5',
         'python-fasthtml==0.12.47', 'fastlite==0.2.4', 'apswutils==0.1.2', 'apsw==3.51.2.0', 'ipywidgets==8.1.5'])

# urllib3 (the course imports it directly, beside requests): 2.5.0 in backend-info's pip-freeze.gpu.txt at 4647a1d,
# the base of Kaggle's image; we assume Colab's runtime has the same.
IMAGES = {image.name: image for image in (COLAB, KAGGLE)}


def pip_env() -> dict[str, str]:
    "The environment for pip: the plain index, as a learner has it, whatever this machine's pip configuration says."
    env = {k: v for k, v in os.environ.items()
           if k not in ('PIP_FIND_LINKS', 'PIP_EXTRA_INDEX_URL', 'PIP_CONSTRAINT', 'PIP_TARGET', 'PIP_PREFIX',
                        'PIP_USER', 'PYTHONPATH')}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK='1', PIP_NO_INPUT='1', PYTHONNOUSERSITE='1')
    return env


def run(*args, timeout=600, **env) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, env={**pip_env(), **env}, timeout=timeout)
    assert done.returncode == 0, f'{" ".join(map(str, args))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}'
    return done


@functools.cache
def interpreter(version:str) -> Path:
    "A Python `version` (major.minor) on this machine: pyenv's, or one on PATH."
    found = sorted(Path.home().glob(f'.pyenv/versions/{version}.*/bin/python{version}'))
    if shutil.which(f'python{version}'): found.append(Path(shutil.which(f'python{version}')))
    for python in found:
        if subprocess.run([python, '-m', 'pip', '--version'], capture_output=True).returncode == 0: return python
    pytest.fail(f'These tests need Python {version} with pip, as the cloud image has (for example '
                f'`pyenv install {version}`), or set COURSE_SKIP_INDEX_TESTS=1 to skip them.')


@pytest.fixture(scope='module', autouse=True)
def package_index():
    "Skip on request; otherwise fail, with the reason, when the package index can't be reached."
    if os.environ.get('COURSE_SKIP_INDEX_TESTS') == '1':
        pytest.skip('COURSE_SKIP_INDEX_TESTS=1: the cloud-install tests need the package index (PyPI)')
    ask = [sys.executable, '-m', 'pip', 'index', 'versions', 'fastai', '--retries', '1', '--timeout', '15']
    done = subprocess.run(ask, capture_output=True, text=True, env=pip_env(), timeout=120)
    if done.returncode != 0:
        pytest.fail(f'The package index (PyPI) could not be reached, and these tests need it as a learner\'s install '
                    f'does:\n{done.stderr.strip()[-1500:]}\nOffline, set COURSE_SKIP_INDEX_TESTS=1 to skip them.')


@pytest.fixture(scope='module')
def scratch():
    folder = Path(tempfile.mkdtemp(prefix='course-cloud-'))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def site_packages(venv:Path) -> Path:
    return Path(run(venv/'bin'/'python', '-c', 'import sysconfig; print(sysconfig.get_path("purelib"))').stdout.strip())


def hold(venv:Path, versions:dict[str, str]):
    """Make the venv hold `versions` without installing them. pip knows what is installed only from each package's
    .dist-info folder (METADATA's name and version, INSTALLER, RECORD), so its resolver treats these folders exactly
    as the real packages: 5 GB of CUDA torch become a few bytes. Their own dependencies are left out: on the image
    they are already satisfied, and leaving them out keeps pip from walking the image's whole tree."""
    site = site_packages(venv)
    for name, version in versions.items():
        info = site/f'{canonicalize_name(name).replace("-", "_")}-{version}.dist-info'
        info.mkdir()
        (info/'METADATA').write_text(f'Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n')
        (info/'INSTALLER').write_text('pip\n')
        (info/'RECORD').write_text(''.join(f'{info.name}/{f},,\n' for f in ('METADATA', 'INSTALLER', 'RECORD')))


@pytest.fixture(scope='module')
def image_venvs(scratch):
    "For each image, a fresh venv on the image's Python holding the image's packages (built once, reused)."
    made = {}
    def venv_for(image:Image) -> Path:
        if image.name not in made:
            venv = scratch/f'{image.name}-image'
            run(interpreter(image.python), '-m', 'venv', '--without-pip', venv)
            hold(venv, image.has)
            made[image.name] = venv
        return made[image.name]
    return venv_for


def install_plan(image:Image, venv:Path, target:str, report:Path) -> dict[str, str]:
    "What `pip install target` would install in the image's venv, name -> version: pip's own --dry-run report."
    # The image's Python runs its own pip against the venv (`--python`), as `pip install` in a notebook does.
    run(interpreter(image.python), '-m', 'pip', '--python', venv/'bin'/'python', 'install', '--dry-run',
        '--report', report, target)
    return {canonicalize_name(item['metadata']['name']): item['metadata']['version']
            for item in json.loads(report.read_text())['install']}


@pytest.fixture(scope='module', params=list(IMAGES))
def learner_install(request, image_venvs, scratch):
    "(image, plan) for the learner's plain install of the course, no extras."
    image = IMAGES[request.param]
    return image, install_plan(image, image_venvs(image), str(REPO), scratch/f'{image.name}-plan.json')


def broken_pair(versions:dict[str, str]) -> bool:
    "fastai before 2.8.8 beside fastcore 2: every fit fails (what `setup_lesson` refuses)."
    return Version(versions['fastai']) < Version('2.8.8') and Version(versions['fastcore']) >= Version('2')


def test_install_changes_nothing_the_image_has(learner_install):
    image, plan = learner_install
    changed = [f'{name} {image.has[name]} -> {version}' for name, version in plan.items() if name in image.has]
    assert not changed, f'on {image.name}, `pip install` of the course would change: {", ".join(changed)}'
    unknown = sorted(set(plan) - set(image.has) - image.not_on_image - {'course-utils'})
    assert not unknown, (f'on {image.name}, the install would add {unknown}: if the image has them, add their '
                         f'versions to {image.name.upper()}.has; if not, to not_on_image')
    assert 'course-utils' in plan


def test_install_never_leaves_a_fastai_that_cannot_train(learner_install):
    image, plan = learner_install
    after = {**image.has, **plan}
    assert not broken_pair(after), f'{image.name}: fastai {after["fastai"]} beside fastcore {after["fastcore"]}'


def test_dev_extra_on_kaggle_moves_fastai_up_with_fastcore(image_venvs, scratch):
    # The dev extra brings nbdev, which needs fastcore 2. fastai 2.8.7 declares no upper bound on fastcore, so
    # without the dev extra's own fastai>=2.8.8 pip would leave 2.8.7 beside fastcore 2: the pair that can't train.
    plan = install_plan(KAGGLE, image_venvs(KAGGLE), f'{REPO}[dev]', scratch/'kaggle-dev-plan.json')
    after = {**KAGGLE.has, **plan}
    assert Version(after['fastcore']) >= Version('2') and Version(after['fastai']) >= Version('2.8.8'), after
    assert not broken_pair(after)


# Run inside a venv with the image's fastai, fastcore and ipywidgets: train once, build the quiz form and the
# upload app, feed the app an upload the way the browser delivers it, and print what came out as JSON.
TRAIN_AND_SHOW = r'''
import io, json, math, sys
import fastai, fastcore, ipywidgets
from fastai.vision.all import ImageDataLoaders, Learner, Resize, error_rate
from PIL import Image
from course_utils.core import check_library_combination
from course_utils.datasets import bird_forest
from course_utils.quiz import load_quiz
from course_utils.quiz_ui import quiz_form
from course_utils.vision import small_cnn
from course_utils.widgets import classifier_app

check_library_combination()
path = bird_forest(offline=True, quick=True, n_per_class=16)
dls = ImageDataLoaders.from_folder(path, valid_pct=0.25, seed=42, item_tfms=Resize(32), bs=8, num_workers=0)
learn = Learner(dls, small_cnn(2, widths=(8, 16)), metrics=error_rate)
with learn.no_bar(): learn.fit_one_cycle(1)
train_loss, valid_loss = learn.recorder.values[-1][:2]

form = quiz_form(load_quiz('01'), seed=0)
card = next(c for c in form.cards if c.question.kind == 'choice')
card.set_answer(card.question.answer[0]); card.check_button.click()

app = classifier_app(learn)
photo = io.BytesIO()
Image.open(next((path/'bird').iterdir())).save(photo, 'PNG')
png = photo.getvalue()
# ipywidgets 7's browser side sends the files' metadata and data, then bumps a counter; 8's sends one `value` list.
if ipywidgets.__version__ < '8':
    app.upload.set_state({'metadata': [{'name': 'bird.png', 'type': 'image/png', 'size': len(png), 'lastModified': 0}],
                          'data': [memoryview(png)], '_counter': 1})
else:
    app.upload.set_state({'value': [{'name': 'bird.png', 'type': 'image/png', 'size': len(png),
                                     'content': memoryview(png), 'last_modified': 0}]})
print(json.dumps({
    'versions': {'fastai': fastai.__version__, 'fastcore': fastcore.__version__, 'ipywidgets': ipywidgets.__version__},
    'files': [fastai.__file__, fastcore.__file__, ipywidgets.__file__],
    'losses': [float(train_loss), float(valid_loss)],
    'cards': len(form.cards), 'card_classes': sorted({c.widget._dom_classes[0] for c in form.cards}),
    'feedback': card.feedback.value, 'shown_as': sorted(form._repr_mimebundle_()),
    'upload': type(app.upload).__name__, 'messages': app.messages,
    'outputs': [o.get('output_type') for o in app.output.outputs]}))
'''


def chained_venv(folder:Path, pins:list[str]) -> Path:
    """A venv on CI's Python that sees CI's venv (torch included, not downloaded again) through a .pth file, with
    `pins` installed in its own site-packages, which come first on sys.path and so shadow CI's versions."""
    run(getattr(sys, '_base_executable', sys.executable), '-m', 'venv', '--without-pip', folder)
    site = site_packages(folder)
    chained = {sysconfig.get_path('purelib'), sysconfig.get_path('platlib')}
    # addsitedir (not a bare path line) so that CI's own .pth files run too: the editable course_utils is one.
    lines = [f'import site; site.addsitedir({p!r})\n' for p in sorted(chained)]
    (site/'zz_chain_to_ci_venv.pth').write_text(''.join(lines))
    # --target installs into the folder without touching (or uninstalling from) CI's venv.
    run(sys.executable, '-m', 'pip', 'install', '--no-deps', '--no-compile', '--target', site, *pins)
    return folder


@pytest.fixture(scope='module', params=list(IMAGES))
def trained(request, scratch):
    "(image, what TRAIN_AND_SHOW printed) in a venv with the image's fastai, fastcore and ipywidgets."
    image = IMAGES[request.param]
    venv = chained_venv(scratch/f'{image.name}-run', image.run)
    # Its own data folder: the repository's is shared with the lesson runs, which use a bigger synthetic set.
    done = run(venv/'bin'/'python', '-c', TRAIN_AND_SHOW, timeout=300, COURSE_DATA_DIR=str(scratch/f'{image.name}-data'))
    return image, venv, json.loads(done.stdout.strip().splitlines()[-1])


def test_trains_and_shows_widgets_with_the_images_libraries(trained):
    image, venv, out = trained
    wanted = {pin.split('==')[0]: pin.split('==')[1] for pin in image.run}
    assert out['versions'] == {name: wanted[name] for name in ('fastai', 'fastcore', 'ipywidgets')}
    assert all(f.startswith(str(venv)) for f in out['files']), out['files']   # shadowed, not CI's own
    assert all(math.isfinite(loss) for loss in out['losses']), out['losses']
    assert out['cards'] == len(load_quiz('01').questions) and out['card_classes'] == ['quiz-card']
    assert '✔' in out['feedback']
    assert 'application/vnd.jupyter.widget-view+json' in out['shown_as']   # a notebook shows the form, not its repr
    assert out['upload'] == 'FileUpload'
    [message] = out['messages']
    assert message.startswith('bird.png:') and 'probability' in message, message
    assert out['outputs'] == ['display_data', 'stream']   # the thumbnail, then the verdict
