from django.conf import settings
from django.db import migrations, models


def mark_tracked_coins_of_the_setting(apps, schema_editor):
    # Coins tracked under an older TRACKED_COINS cannot be told apart from
    # coins tracked in the admin: only the current setting's are marked.
    coin_model = apps.get_model("prices", "Coin")
    coin_model.objects.filter(coingecko_id__in=settings.TRACKED_COINS, is_tracked=True).update(
        tracked_by_setting=True
    )


class Migration(migrations.Migration):
    dependencies = [("prices", "0002_beat_schedule")]

    operations = [
        migrations.AddField(
            model_name="coin",
            name="tracked_by_setting",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(mark_tracked_coins_of_the_setting, migrations.RunPython.noop),
    ]
