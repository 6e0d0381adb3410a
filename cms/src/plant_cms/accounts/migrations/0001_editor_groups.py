"""The Wagtail groups platform roles map to (see plant_cms.accounts.groups).

Wagtail's own migrations create "Editors" and "Moderators"; this makes sure they exist with the
permissions the platform expects: both reach the admin; on the whole page tree Editors add, edit,
publish and lock (an editor role is trusted to publish), Moderators also unlock; both manage images
and documents in every collection.
"""

from django.db import migrations

PAGE_PERMISSIONS = {
    "Editors": ("add_page", "change_page", "publish_page", "lock_page"),
    "Moderators": ("add_page", "change_page", "publish_page", "lock_page", "unlock_page"),
}
COLLECTION_PERMISSIONS = {
    ("wagtailimages", "image"): ("add_image", "change_image", "delete_image", "choose_image"),
    ("wagtaildocs", "document"): ("add_document", "change_document", "delete_document", "choose_document"),
}


def _permission(apps, app_label, model, codename):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    content_type, _ = ContentType.objects.get_or_create(app_label=app_label, model=model)
    verb, _, noun = codename.partition("_")
    permission, _ = Permission.objects.get_or_create(content_type=content_type, codename=codename, defaults={"name": f"Can {verb} {noun}"})
    return permission


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Page = apps.get_model("wagtailcore", "Page")
    Collection = apps.get_model("wagtailcore", "Collection")
    GroupPagePermission = apps.get_model("wagtailcore", "GroupPagePermission")
    GroupCollectionPermission = apps.get_model("wagtailcore", "GroupCollectionPermission")

    access_admin = _permission(apps, "wagtailadmin", "admin", "access_admin")
    root_page = Page.objects.filter(depth=1).order_by("path").first()
    root_collection = Collection.objects.filter(depth=1).order_by("path").first()
    for name, page_codenames in PAGE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(access_admin)
        if root_page is not None:
            for codename in page_codenames:
                permission = _permission(apps, "wagtailcore", "page", codename)
                GroupPagePermission.objects.get_or_create(group=group, page=root_page, permission=permission)
        if root_collection is not None:
            for (app_label, model), codenames in COLLECTION_PERMISSIONS.items():
                for codename in codenames:
                    permission = _permission(apps, app_label, model, codename)
                    GroupCollectionPermission.objects.get_or_create(group=group, collection=root_collection, permission=permission)


class Migration(migrations.Migration):

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("wagtailadmin", "0001_create_admin_access_permissions"),
        ("wagtailcore", "0090_remove_grouppagepermission_permission_type"),
        ("wagtailimages", "0023_add_choose_permissions"),
        ("wagtaildocs", "0011_add_choose_permissions"),
    ]

    # Reversing leaves the groups: Wagtail created them first, and editors may have been added.
    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
