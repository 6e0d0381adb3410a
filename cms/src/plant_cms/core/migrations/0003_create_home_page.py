"""Replace Wagtail's placeholder "Welcome" page with the HomePage, and make it the default Site's root."""

from django.db import migrations

HOME_PATH = "00010001"  # the first child of the tree root, where the placeholder was


def create_home_page(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Page = apps.get_model("wagtailcore", "Page")
    Site = apps.get_model("wagtailcore", "Site")
    HomePage = apps.get_model("core", "HomePage")

    if HomePage.objects.exists():
        return
    root = Page.objects.get(depth=1)
    # wagtailcore's initial data: a plain Page at depth 2 and a Site on it (deleted with it, by cascade).
    Page.objects.filter(
        depth=2, slug="home", content_type__app_label="wagtailcore", content_type__model="page"
    ).delete()

    content_type, _ = ContentType.objects.get_or_create(app_label="core", model="homepage")
    home = HomePage.objects.create(
        title="Plant Community",
        draft_title="Plant Community",
        slug="home",
        content_type=content_type,
        path=HOME_PATH,
        depth=2,
        numchild=0,
        url_path="/home/",
        locale_id=root.locale_id,
        live=True,
    )
    Site.objects.update_or_create(
        is_default_site=True,
        defaults={"hostname": "localhost", "port": 80, "site_name": "Plant Community", "root_page": home},
    )
    _recount_root_children(Page)


def remove_home_page(apps, schema_editor):
    # Its Site goes with it (cascade); wagtailcore's placeholder is not recreated.
    apps.get_model("core", "HomePage").objects.filter(path=HOME_PATH).delete()
    apps.get_model("contenttypes", "ContentType").objects.filter(app_label="core", model="homepage").delete()
    _recount_root_children(apps.get_model("wagtailcore", "Page"))


def _recount_root_children(Page):
    # Historical models bypass treebeard, which would otherwise keep the root's child count.
    Page.objects.filter(depth=1).update(numchild=Page.objects.filter(depth=2).count())


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_home_page"),
    ]

    operations = [
        migrations.RunPython(create_home_page, remove_home_page),
    ]
