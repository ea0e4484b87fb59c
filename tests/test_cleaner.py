"""The data cleaner of lesson 01, driven through its own widgets: dropdowns set as a learner sets them and the
Apply button clicked. Files are deleted and moved as chosen, and nothing outside the dataset folder is touched,
whatever path or class name it is given; `top_losses` is checked on a tiny learner."""
import os

import pytest
from PIL import Image

from course_utils.core import CourseError
from course_utils.widgets import DELETE, KEEP, ImageCleaner, TopLoss, top_losses


@pytest.fixture
def folders(tmp_path):
    "A dataset folder with bird/ and forest/ (the same file names in both), and a folder beside it."
    data, outside = tmp_path/'data', tmp_path/'outside'
    for label, colour in (('bird', 'skyblue'), ('forest', 'darkgreen')):
        (data/label).mkdir(parents=True)
        for name in ('1.jpg', '2.jpg', '3.jpg'): Image.new('RGB', (16, 16), colour).save(data/label/name)
    outside.mkdir()
    (outside/'1.jpg').write_bytes(b'not part of the dataset')
    return data, outside


def cleaner_for(data, *items, classes=('bird', 'forest')):
    return ImageCleaner([TopLoss(data/path, label, prediction, probability, loss, valid=valid)
                         for path, label, prediction, probability, loss, valid in items], list(classes), data)


def choose(cleaner, *values):
    for dropdown, value in zip(cleaner.dropdowns, values): dropdown.value = value
    cleaner.button.click()


def test_apply_deletes_and_moves_as_chosen(folders):
    data, _ = folders
    cleaner = cleaner_for(data, ('forest/2.jpg', 'forest', 'bird', 0.95, 3.0, False),
                          ('bird/3.jpg', 'bird', 'forest', 0.7, 1.2, True), ('bird/1.jpg', 'bird', 'forest', 0.6, 0.9, False))
    choose(cleaner, 'bird', DELETE, KEEP)
    assert sorted(p.name for p in (data/'bird').iterdir()) == ['1.jpg', '2-1.jpg', '2.jpg']   # moved, renamed, not overwritten
    assert sorted(p.name for p in (data/'forest').iterdir()) == ['1.jpg', '3.jpg']
    assert (data/'bird'/'2.jpg').read_bytes() != (data/'bird'/'2-1.jpg').read_bytes()   # the bird's own 2.jpg is intact
    assert [(c.action, c.path.name) for c in cleaner.changes] == [('moved', '2.jpg'), ('deleted', '3.jpg')]
    assert cleaner.messages == ['moved forest/2.jpg to bird/2-1.jpg', 'deleted bird/3.jpg']
    assert cleaner.current_path(data/'forest'/'2.jpg') == data/'bird'/'2-1.jpg'
    assert cleaner.current_path(data/'bird'/'3.jpg') is None and cleaner.current_path(data/'bird'/'1.jpg') == data/'bird'/'1.jpg'


def test_a_second_apply_leaves_done_pictures_alone(folders):
    data, _ = folders
    cleaner = cleaner_for(data, ('forest/2.jpg', 'forest', 'bird', 0.95, 3.0, False))
    choose(cleaner, 'bird')
    assert cleaner.dropdowns[0].disabled
    cleaner.button.click()
    assert cleaner.messages[-1] == 'Nothing to do: every picture is marked keep, or dealt with already.'
    assert len(cleaner.changes) == 1 and sorted(p.name for p in (data/'bird').iterdir()) == ['1.jpg', '2-1.jpg', '2.jpg', '3.jpg']


def test_paths_outside_the_dataset_are_refused(folders):
    data, outside = folders
    (data/'bird'/'link.jpg').symlink_to(outside/'1.jpg')
    cleaner = cleaner_for(data, ('bird/../../outside/1.jpg', 'bird', 'forest', 0.99, 5.0, False),
                          ('bird/link.jpg', 'bird', 'forest', 0.99, 4.0, False))
    choose(cleaner, DELETE, 'forest')
    assert [c.action for c in cleaner.changes] == ['refused', 'refused']
    assert all('outside the dataset folder' in message for message in cleaner.messages)
    assert (outside/'1.jpg').read_bytes() == b'not part of the dataset'
    assert (data/'bird'/'link.jpg').is_symlink() and not (data/'forest'/'link.jpg').exists()
    assert not cleaner.dropdowns[0].disabled   # refused, so it can still be changed


@pytest.mark.parametrize('bad_class', ['..', '../outside', '.'])
def test_a_class_name_that_leaves_the_folder_is_refused(folders, bad_class):
    data, outside = folders
    cleaner = cleaner_for(data, ('bird/1.jpg', 'bird', bad_class, 0.99, 5.0, False), classes=('bird', bad_class))
    choose(cleaner, bad_class)
    assert cleaner.changes[0].action == 'refused' and 'not a class folder' in cleaner.changes[0].note
    assert (data/'bird'/'1.jpg').exists() and (outside/'1.jpg').read_bytes() == b'not part of the dataset'
    assert sorted(os.listdir(data.parent)) == ['data', 'outside'] and sorted(os.listdir(data)) == ['bird', 'forest']


def test_moving_never_overwrites(folders):
    data, _ = folders
    (data/'bird'/'1-1.jpg').write_bytes(b'taken too')
    cleaner = cleaner_for(data, ('forest/1.jpg', 'forest', 'bird', 0.9, 2.0, False))
    choose(cleaner, 'bird')
    assert (data/'bird'/'1-1.jpg').read_bytes() == b'taken too'
    assert cleaner.changes[0].to == data/'bird'/'1-2.jpg' and (data/'bird'/'1-2.jpg').exists()


def test_a_file_already_gone_is_reported_not_raised(folders):
    data, _ = folders
    cleaner = cleaner_for(data, ('bird/1.jpg', 'bird', 'forest', 0.9, 2.0, False))
    (data/'bird'/'1.jpg').unlink()
    choose(cleaner, DELETE)
    assert cleaner.changes[0].action == 'refused' and 'no longer there' in cleaner.messages[0]


def test_suggest_moves_only_confident_training_pictures_and_never_deletes(folders):
    data, _ = folders
    cleaner = cleaner_for(data, ('forest/1.jpg', 'forest', 'bird', 0.95, 3.0, False),   # sure, training: suggested
                          ('forest/2.jpg', 'forest', 'bird', 0.99, 4.0, True),           # validation: never
                          ('bird/2.jpg', 'bird', 'forest', 0.85, 1.9, False),            # not sure enough
                          ('bird/3.jpg', 'bird', 'bird', 0.55, 0.6, False))              # the model agrees
    assert [item.path.name for item in cleaner.suggest(min_probability=0.9)] == ['1.jpg']
    assert [d.value for d in cleaner.dropdowns] == ['bird', KEEP, KEEP, KEEP]
    assert not cleaner.applied
    done = cleaner.apply()   # what the headless lesson calls: the button's method
    assert cleaner.applied and [(c.action, c.to) for c in done] == [('moved', data/'bird'/'1-1.jpg')]


def test_class_names_that_clash_with_the_choices_are_explained(folders):
    data, _ = folders
    with pytest.raises(CourseError, match="Rename that class's folder"): ImageCleaner([], ['delete', 'forest'], data)


def test_a_picture_that_cannot_be_shown_still_gets_its_dropdown(folders):
    data, _ = folders
    (data/'bird'/'broken.jpg').write_bytes(b'not a jpeg')
    cleaner = cleaner_for(data, ('bird/broken.jpg', 'bird', 'forest', 0.9, 2.0, False))
    choose(cleaner, DELETE)
    assert cleaner.changes[0].action == 'deleted' and not (data/'bird'/'broken.jpg').exists()


def test_top_losses_on_a_tiny_learner(folders):
    # A model that always answers 'bird' with probability 0.9: the forests get the highest losses, the birds the lowest.
    import torch
    from torch import nn
    from fastai.vision.all import CategoryBlock, DataBlock, ImageBlock, Learner, RandomSplitter, Resize, get_image_files, parent_label
    data, _ = folders

    class AlwaysBird(nn.Module):
        def __init__(self):
            super().__init__()
            self.unused = nn.Linear(1, 1)   # a Learner needs parameters
        def forward(self, x): return torch.log(torch.tensor([0.9, 0.1])).expand(len(x), 2)

    dls = DataBlock(blocks=(ImageBlock, CategoryBlock), get_items=get_image_files, get_y=parent_label,
                    splitter=RandomSplitter(valid_pct=0.5, seed=0), item_tfms=Resize(8)).dataloaders(data, bs=2, num_workers=0)
    learn = Learner(dls, AlwaysBird())
    with learn.no_bar(): found = top_losses(learn, n=4)
    assert len(found) == 4 and {item.label for item in found[:3]} == {'forest'}
    assert all(item.prediction == 'bird' and item.probability == pytest.approx(0.9) for item in found)
    assert [item.loss for item in found] == sorted((item.loss for item in found), reverse=True)
    assert found[0].loss == pytest.approx(-torch.log(torch.tensor(0.1)).item(), rel=1e-4)
    valid = {p for p in dls.valid_ds.items}
    assert all(item.valid == (item.path in valid) for item in found)
