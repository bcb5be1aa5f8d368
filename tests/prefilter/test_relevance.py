"""Which definitions of a module may reach features (``relevant_definitions``): what the project
gate asks of an imported name, and what the engine asks before it runs a function."""

from __future__ import annotations

import textwrap
from pathlib import Path

from clip_lint.prefilter.relevance import relevant_definitions
from clip_lint.project.modules import Project

MODULE = textwrap.dedent(
    '''
    import torch.nn as nn


    class Projection(nn.Module):
        def __init__(self):
            super().__init__()

        def forward(self, image_embeds):
            return self.proj(image_embeds)


    class Timesteps(nn.Module):
        def __init__(self):
            super().__init__()

        def forward(self, t):
            return t * 2


    class Encoder:
        def embed(self, images):
            return self.model.encode_image(images)


    class Search:
        def __init__(self, encoder):
            self.encoder = encoder

        def run(self, images):
            return self.encoder.embed(images)


    class Child(Projection):
        pass


    def scale(t):
        return Timesteps()(t)
    '''
)


def test_a_class_is_relevant_through_its_own_code_and_its_bases() -> None:
    relevant = relevant_definitions(MODULE, ())
    assert {"Projection", "Encoder", "Child"} <= relevant
    assert "Search" in relevant  # it calls a method that names an encoder: ``self.encoder.embed``
    assert {"forward", "embed"} <= relevant  # the engine runs a method so named


def test_defining_a_shared_method_name_or_calling_super_links_nothing() -> None:
    # Every class has ``forward`` and ``__init__``; one ``forward`` that names ``image_embeds``
    # makes neither the other classes nor code that builds them relevant.
    relevant = relevant_definitions(MODULE, ())
    assert "Timesteps" not in relevant
    assert "scale" not in relevant


def test_the_gate_lets_a_module_go_that_imports_only_such_a_class(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "layers.py").write_text(MODULE)
    project = Project(str(tmp_path))
    layers = str(tmp_path / "layers.py")
    assert project.imported_name_hands(layers, "Projection")
    assert project.imported_name_hands(layers, "Child")
    assert not project.imported_name_hands(layers, "Timesteps")


def test_a_model_class_named_only_as_a_type_to_test_makes_nothing_relevant() -> None:
    module = textwrap.dedent(
        '''
        def attention_layers(text_encoder):
            if isinstance(text_encoder, (CLIPTextModel, CLIPTextModelWithProjection)):
                return text_encoder.text_model.encoder.layers
            raise ValueError(text_encoder)


        def build(name):
            return CLIPTextModelWithProjection.from_pretrained(name)


        def checked(model, tokens):
            if isinstance(model, CLIPTextModelWithProjection):
                return model(tokens).text_embeds
        '''
    )
    relevant = relevant_definitions(module, ())
    assert "attention_layers" not in relevant
    assert {"build", "checked"} <= relevant
