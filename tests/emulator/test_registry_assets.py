def test_registry_environment(emulator: Emulator, tmp_path: Path) -> None:
    registry = emulator["ml_registry"]
    ml = emulator.ml_client(registry_name=registry)
    conda = tmp_path / "conda.yaml"
    conda.write_text("name: shared\ndependencies:\n  - python=3.12\n")
    created = ml.environments.create_or_update(
        Environment(name="shared-env", version="1", image="registry.local/base:1", conda_file=conda)
    )
    assert created.id == f"azureml://registries/{registry}/environments/shared-env/versions/1"
    assert ml.environments.get("shared-env", label="latest").version == "1"
