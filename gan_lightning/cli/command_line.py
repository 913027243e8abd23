"""The command line, checked before Hydra composes anything; `resume=RUN_DIR` expanded.

`resume=RUN_DIR` continues a run in its own directory, with its own composed config: it is
expanded into the overrides that run was started with (its .hydra/overrides.yaml, and its
Hydra overrides but the directory), plus `hydra.run.dir=RUN_DIR`, so Hydra's outputs
(train.log, TensorBoard, grids, checkpoints) continue in place. Overrides typed beside it are
composed too; `train` then compares the result with what the checkpoint recorded and refuses
any change that would make it another run (run/resume.py).
"""

from functools import cache
from importlib.resources import files
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import OmegaConf

from gan_lightning.cli.launch_checks import check_launch
from gan_lightning.cluster.slurm import check_environment, continue_requeued_job
from gan_lightning.cluster.sweep import is_sweep_dir, resume_sweep
from gan_lightning.conf import config_options
from gan_lightning.errors import ConfigError

# Overrides of the original run that a resume replaces rather than repeats, and Hydra's own
# record of how a sweep job was run (a resumed job is a single run).
REPLACED_KEYS = ("resume", "ckpt_path", "hydra.run.dir", "hydra.mode", "hydra.job.num", "hydra.job.id")


def override_key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def hydra_quote(value: str | Path) -> str:
    """`value` as one quoted Hydra value: commas, `=`, spaces and any characters stay literal."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1].replace("\\" + value[0], value[0])
    return value


def _read_saved(path: Path):
    """A run's saved .hydra/*.yaml, or a ConfigError naming the file and the line that cannot be read."""
    import yaml

    try:
        content = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        # where the construct that fails began (an unclosed [ on line 3), else where the parser stopped
        mark = getattr(err, "context_mark", None) or getattr(err, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{path}{line} cannot be read ({problem}): mend that line as the run wrote it (one "
                          f"'- key=value' a line), or start a new run with ckpt_path=<its checkpoint>.") from None
    wanted, shape = (list, "a list of key=value lines") if path.name == "overrides.yaml" else (dict, "a mapping")
    if not isinstance(content, wanted) or (wanted is list and not all(isinstance(o, str) for o in content)):
        raise ConfigError(f"{path} is not as a run writes it ({shape}): mend it, or start a new run with "
                          f"ckpt_path=<its checkpoint>.")
    return content


def expand_resume(arguments: list[str]) -> list[str]:
    """The command-line arguments with `resume=RUN_DIR` expanded (unchanged without one)."""
    resumes = [a for a in arguments if override_key(a) == "resume"]
    if not resumes:
        return arguments
    run_dir = Path(_unquoted(resumes[-1].split("=", 1)[1])).expanduser().absolute()
    saved = run_dir / ".hydra"
    if not run_dir.exists():
        raise ConfigError(f"resume={run_dir} does not exist: give the folder a run or a sweep wrote, e.g. "
                          f"resume=outputs/runs/gan-mnist5k/<time> or resume=outputs/multiruns/<time>.")
    if is_sweep_dir(run_dir):  # a sweep: its own command again (-m beside it is what it runs anyway)
        return resume_sweep(run_dir, [a for a in arguments if a not in resumes and a not in ("-m", "--multirun")],
                            _read_saved)
    if not (saved / "overrides.yaml").is_file() or not (saved / "hydra.yaml").is_file():
        raise ConfigError(f"resume={run_dir} is not a run directory (it has no .hydra/overrides.yaml): give the "
                          f"folder a run or a sweep wrote, e.g. resume=outputs/runs/gan-mnist5k/<time>.")
    others = [a for a in arguments if a not in resumes]
    if any(a.startswith("-") for a in others):
        raise ConfigError(f"resume= continues one run and takes no flags ({' '.join(a for a in others if a.startswith('-'))}).")
    saved_overrides = _read_saved(saved / "overrides.yaml")
    # ~KEY for a key the run's own overrides set (trainer.profiler=simple) undoes that override
    undone = {override_key(o) for o in saved_overrides} & {override_key(a) for a in others if a.startswith("~")}
    others = [a for a in others if not (a.startswith("~") and override_key(a) in undone)]
    new_keys = {override_key(a) for a in others} | undone
    kept = [o for o in saved_overrides if override_key(o) not in (*REPLACED_KEYS, *new_keys)]
    hydra_overrides = ((_read_saved(saved / "hydra.yaml").get("hydra") or {}).get("overrides") or {}).get("hydra") or []
    kept += [o for o in hydra_overrides if override_key(o) not in REPLACED_KEYS
             and not override_key(o).startswith("hydra.sweep")]
    return [*kept, *others, f"hydra.run.dir={hydra_quote(run_dir)}", f"resume={hydra_quote(run_dir)}"]


def refuse_unparsable(arguments: list[str]) -> None:
    """Hydra's lexer error for a value it cannot read (a space, a non-ASCII character) as one
    sentence that says how to quote it."""
    parser = OverridesParser.create()
    for argument in arguments:
        if argument.startswith("-") or "=" not in argument:
            continue
        try:
            parser.parse_override(argument)
        except HydraException:  # the lexer (spaces, non-ASCII), or a value read as a function call
            key, _, value = argument.partition("=")
            raise ConfigError(f"{argument!r} cannot be read as key=value: quote the value for Hydra inside quotes "
                              f"for the shell, e.g. {key}=\"'{value}'\" (paths with spaces, commas or non-ASCII "
                              f"characters need this).") from None


GROUPS = tuple(sorted(entry.name for entry in files("gan_lightning.conf").iterdir()
                      if entry.is_dir() and not entry.name.startswith(("_", "hydra"))))


def refuse_unknown_pieces(overrides: list[str]) -> None:
    """A ConfigError for a config group option with no config file, e.g. model=foo or reg=[r1,r3]
    (Hydra's own message is a search-path dump). Skipped when hydra.searchpath adds folders of
    the user's own."""
    if any(override_key(o).startswith("hydra.searchpath") for o in overrides):
        return
    for override in overrides:
        key, value = override_key(override), override.partition("=")[2]
        if key not in GROUPS or not value or value == "null":
            continue
        known = config_options(key)
        names = [word.strip() for word in value.strip("[]").split(",")]
        twice = sorted({name for name in names if name and names.count(name) > 1})
        if twice and value.startswith("["):  # Hydra merges a repeated entry into one, in silence
            raise ConfigError(f"{override} names {twice[0]} twice: name each piece once, e.g. "
                              f"{key}=[{','.join(dict.fromkeys(n for n in names if n))}].")
        for name in names:
            if name and name not in known:
                example = f"{key}=[r1,r2]" if key == "reg" else f"{key}={known[0]}"
                raise ConfigError(f"Unknown {key} {name!r} in {override}: use one of {', '.join(known)} "
                                  f"(e.g. {example}).")


@cache
def option_keys(group: str, option: str) -> frozenset[str]:
    """The keys conf/<group>/<option>.yaml sets in its group, with those of the options of the same
    group its defaults list extends (trainer=gpu extends default); none for an `@package _global_` file."""
    path = files("gan_lightning.conf") / group / f"{option}.yaml"
    if "@package _global_" in path.read_text():
        return frozenset()
    tree = OmegaConf.to_container(OmegaConf.load(path)) or {}
    extended = [entry for entry in tree.get("defaults", []) if isinstance(entry, str) and entry in config_options(group)]
    return frozenset(tree).union(*(option_keys(group, entry) for entry in extended)) - {"defaults"}


def _group_of(target: str) -> str:
    """The config group a defaults-list entry names: "override /model" -> model, "optional experiment" -> experiment."""
    return target.split()[-1].strip("/").split("@")[0]


@cache
def default_options() -> dict[str, str]:
    """{group: the option conf/config.yaml composes when the command line chooses none}."""
    config = OmegaConf.to_container(OmegaConf.load(files("gan_lightning.conf") / "config.yaml"))
    return {_group_of(target): choice for entry in config["defaults"] if isinstance(entry, dict)
            for target, choice in entry.items() if isinstance(choice, str)}


@cache
def global_keys(group: str, option: str) -> dict[str, frozenset[str]]:
    """{group: the keys an `@package _global_` file (model=quickstart, an experiment) sets in it},
    with those of the global files its defaults list chooses (experiment=r3gan_cifar10 ->
    model=r3gan); empty for a file of its own package or an option that does not exist."""
    path = files("gan_lightning.conf") / group / f"{option}.yaml"
    if option not in config_options(group) or "@package _global_" not in path.read_text():
        return {}
    tree = OmegaConf.to_container(OmegaConf.load(path)) or {}
    keys: dict[str, set[str]] = {}
    for name, sub in tree.items():
        if name in GROUPS and isinstance(sub, dict):
            keys.setdefault(name, set()).update(sub)
    for entry in tree.get("defaults", []):
        for target, choice in (entry.items() if isinstance(entry, dict) else ()):
            if isinstance(choice, str) and _group_of(target) in GROUPS:  # not Hydra's own (hydra/sweeper)
                for name, sub in global_keys(_group_of(target), choice).items():
                    keys.setdefault(name, set()).update(sub)
    return {name: frozenset(sub) for name, sub in keys.items()}


@cache
def preset_choices(group: str, option: str) -> dict[str, str]:
    """{group: option} that conf/<group>/<option>.yaml's defaults list chooses (model=gan ->
    net=mlp), with the choices of those in turn; {} for an option that does not exist."""
    if option not in config_options(group):
        return {}
    tree = OmegaConf.to_container(OmegaConf.load(files("gan_lightning.conf") / group / f"{option}.yaml")) or {}
    own = {_group_of(target): choice if isinstance(choice, str) else f"[{','.join(map(str, choice))}]"
           for entry in (tree.get("defaults", []) if isinstance(tree, dict) else [])
           for target, choice in (entry.items() if isinstance(entry, dict) else ())
           if isinstance(choice, str | list) and _group_of(target) in GROUPS}  # a list: "[apa,lecam]"
    nested: dict[str, str] = {}
    for chosen_group, choice in own.items():
        nested.update(preset_choices(chosen_group, choice))
    return {**nested, **own}  # this file's own choices win over those of the presets it picks


def refuse_unknown_group_keys(overrides: list[str]) -> None:
    """`net.cardinality=4` where the net has no such key gets Hydra's four lines ending in "use
    +net.cardinality=4" (which the net then refuses): one sentence instead, naming the keys there are (of the option typed,
    `net=resnet`, or else of every option of the group). Skipped when hydra.searchpath adds
    configs of the user's own."""
    if any(override_key(o).startswith("hydra.searchpath") for o in overrides):
        return
    chosen = {key: value for key, _, value in (o.partition("=") for o in overrides)
              if key in GROUPS and value in config_options(key)}
    # a group typed as a list (reg=[r1,r2], logger=[tensorboard,csv]): none of its options alone says its keys
    listed = {key for key, _, value in (o.partition("=") for o in overrides) if key in GROUPS and key not in chosen}
    for override in overrides:
        group, _, rest = override.partition("=")[0].partition(".")
        if override.startswith(("-", "+", "~")) or "=" not in override or group not in GROUPS or not rest:
            continue
        # the option this command composes: typed, else the one a typed or default preset chooses
        # (model=gan -> net=mlp), else the group's default (augment=none), else every option of the group
        implied = {}
        for preset_group, option in {**default_options(), **chosen}.items():
            if preset_group != group:
                implied.update(preset_choices(preset_group, option))
        default = {group: default_options()[group]} if default_options().get(group) in config_options(group) else {}
        effective = {**default, **implied, **chosen}
        options = effective[group].strip("[]").split(",") if group in effective else config_options(group)
        presets = [global_keys(g, option).get(group, frozenset()) for g, option in {**default_options(), **chosen}.items()]
        known = set().union(*presets, *(option_keys(group, option) for option in options))
        name = rest.split(".")[0]
        # logger=none logger.tensorboard.x=1, augment.kimg=10 under the default augment=none: a key of
        # another option (an option typed with keys of its own lists them, below)
        if (group in effective and group not in listed and len(options) == 1 and name not in known
                and (not known or group not in chosen)):
            having = [option for option in config_options(group) if name in option_keys(group, option)]
            if having:
                raise ConfigError(f"{override}: {group}.{name} is not in this run, because {group}={effective[group]} "
                                  f"leaves it out: choose it with " + " or ".join(f"{group}={o}" for o in having)
                                  + " instead.")
        if known and name not in known and group == "schedule":
            values = sorted(known - {"warmup", "steps", "final"})
            raise ConfigError(f"{override}: {name} cannot be scheduled: the keys that can are {', '.join(values)} "
                              f"(e.g. schedule.lr=cosine).")
        if known and name not in known and group == "trainer":
            raise ConfigError(f"{override}: the trainer configs have no key {name!r}; another argument of "
                              f"lightning.Trainer is added with a plus: +{override}.")
        if known and name not in known:
            where = (f"{group}={effective[group]} has no key {name!r} (its keys:" if group in effective
                     else f"no {group} config has a key {name!r} (their keys:")
            raise ConfigError(f"{override}: {where} {', '.join(sorted(known))}).")
        option = effective.get(group) or default_options().get(group)
        if len(options) > 1:  # a preset's list (experiment=few_images: reg=[apa,lecam]): the entry with the key
            option = next((o for o in options if name in option_keys(group, o)), None)
        if option in config_options(group) and group not in listed and "." in rest:
            refuse_unknown_entry_keys(override, group, option, rest)
        if group in listed:  # reg=[r1,apa] reg.apa.targt=0.5: the entry's own keys
            refuse_unknown_list_keys(override, group, rest, overrides)


def refuse_unknown_list_keys(override: str, group: str, rest: str, overrides: list[str]) -> None:
    """A key under a group typed as a list (reg=[r1,apa]): one of the listed options' keys, checked
    as the option's own file gives them (Hydra's answer is "Key 'targt' is not in struct")."""
    typed = next((o for o in reversed(overrides) if o.partition("=")[0] == group), None)
    if typed is None:
        return
    names = [n.strip() for n in typed.partition("=")[2].strip("[]").split(",") if n.strip() in config_options(group)]
    name = rest.split(".")[0]
    known = set().union(*(option_keys(group, n) for n in names))
    if known and name not in known:
        raise ConfigError(f"{override}: {typed} has no key {name!r} (its keys: {', '.join(sorted(known))}).")
    owner = next((n for n in names if name in option_keys(group, n)), None)
    if owner is not None and "." in rest:
        refuse_unknown_entry_keys(override, group, owner, rest)


def refuse_a_net_the_preset_does_not_fit(overrides: list[str]) -> None:
    """`model=r3gan net=mlp`: the model sets keys of its own net (net.blocks, ...) that the net typed
    does not have; one sentence instead of the net's list of options it cannot take."""
    typed = {key: value for key, _, value in (o.partition("=") for o in overrides)}
    net = typed.get("net")
    if net not in config_options("net"):
        return
    for group in ("model", "experiment"):
        preset = typed.get(group)
        missing = sorted(global_keys(group, preset).get("net", frozenset()) - option_keys("net", net)) \
            if preset in config_options(group) else []
        if missing:
            own = preset_choices(group, preset).get("net", "its own")
            raise ConfigError(f"net={net}: {group}={preset} sets net keys ({', '.join(missing)}) for net={own}, which "
                              f"net={net} does not have: drop net={net}, or choose a model that leaves the net's keys "
                              f"to you, e.g. model=rpgan (R3GAN's loss and penalties on any net).")


def refuse_keys_under_a_null(overrides: list[str]) -> None:
    """`callbacks.health=null callbacks.health.on_alarm=stop`: the key has nowhere to go (Hydra's
    answer is "Key 'on_alarm' is not in struct")."""
    nulled = {override_key(o): o for o in overrides
              if o.startswith("~") or (o.partition("=")[2] == "null" and not o.startswith("-"))}
    for override in overrides:
        key = override_key(override)
        parent = next((n for n in nulled if key.startswith(n + ".")), None)
        if parent is not None:
            raise ConfigError(f"{override} sets a key of {parent}, and {nulled[parent]} switches {parent} off: "
                              f"drop one of the two.")


def refuse_unknown_entry_keys(override: str, group: str, option: str, rest: str) -> None:
    """`callbacks.metrics.foo=1` where the metrics entry has no key foo gets Hydra's dump: one
    sentence naming the entry's keys (and the plus that passes another argument to its target)."""
    path = files("gan_lightning.conf") / group / f"{option}.yaml"
    if "@package _global_" in path.read_text():
        return
    node, where = OmegaConf.to_container(OmegaConf.load(path)) or {}, group
    if "defaults" in node:  # an option that extends another (trainer=gpu): its first level is checked above
        return
    for name in rest.split("."):
        if not isinstance(node, dict):
            return
        if name not in node and where != group:
            plus = (f"; an argument of its _target_ that is not there is added with a plus: +{override}"
                    if "_target_" in node else "")
            raise ConfigError(f"{override}: {where} has no key {name!r} (its keys: {', '.join(sorted(node))}){plus}.")
        node, where = node.get(name), f"{where}.{name}"


def refuse_unknown_top_level_keys(overrides: list[str]) -> None:
    """`lr=1e-3` gets Hydra's "Could not override 'lr'... use +lr=1e-3", and `+lr` would be
    ignored: one sentence naming the key that was probably meant instead. `+seed=1` (a plus on a
    key that is there) gets Hydra's three lines: one sentence too."""
    from gan_lightning.cli.config_checks import known_top_level_keys, top_level_values

    known = known_top_level_keys()
    for override in overrides:
        key = override.split("=", 1)[0]
        if key.startswith("+") and not key.startswith("++") and key[1:] in top_level_values():
            raise ConfigError(f"{override} adds {key[1:]}, which is there already: set it without the plus, "
                              f"{override[1:]}.")
        if override.startswith("-") or "=" not in override or "." in key or "/" in key or key.lstrip("+~") in known:
            continue
        name = key.lstrip("+~")
        meant = [f"{group}.{name}" for group in GROUPS for option in config_options(group) if name in option_keys(group, option)]
        hint = f"did you mean {sorted(set(meant))[0]}={override.split('=', 1)[1]}?" if meant else \
            "python -m gan_lightning --cfg job lists every key."
        raise ConfigError(f"{override} is not a key gan_lightning reads: {hint}")


def check_command_line(arguments: list[str]) -> list[str]:
    """The arguments Hydra gets: `resume=` expanded; values Hydra cannot parse, unknown
    loss/reg/augment names and sweeps that cannot launch refused."""
    refuse_unparsable([a for a in arguments if override_key(a) != "resume"])
    refuse_unknown_top_level_keys(arguments)
    check_launch(arguments)
    check_environment()
    expanded = expand_resume(continue_requeued_job(arguments))  # a requeued SLURM job: resume=<its run>
    if expanded[:1] == ["-m"] and arguments[:1] != ["-m"]:  # resume=<sweep dir>: the sweep's launch, checked again
        check_launch(expanded)
    arguments = expanded
    refuse_unknown_pieces(arguments)
    refuse_keys_under_a_null(arguments)
    refuse_a_net_the_preset_does_not_fit(arguments)
    refuse_unknown_group_keys(arguments)
    return arguments
