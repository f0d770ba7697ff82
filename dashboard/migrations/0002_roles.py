"""The two roles: viewer (read only) and operator (may produce and reset offsets)."""

from django.db import migrations

PERMISSIONS = {
    "produce_message": "Can produce messages to topics",
    "reset_offsets": "Can reset consumer group offsets",
}


def create_roles(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    # Permissions are normally made after all migrations (post_migrate); make them
    # here so the groups can hold them in the same `migrate`.
    ct, _ = ContentType.objects.get_or_create(app_label="dashboard", model="kafkaaccess")
    perms = []
    for codename, name in PERMISSIONS.items():
        perm, _ = Permission.objects.get_or_create(
            content_type=ct, codename=codename, defaults={"name": name}
        )
        perms.append(perm)
    Group.objects.get_or_create(name="viewer")
    operator, _ = Group.objects.get_or_create(name="operator")
    operator.permissions.add(*perms)


def drop_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.filter(name__in=["viewer", "operator"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, drop_roles)]
