"""Every installation starts with the default event taxonomy, and the default roles get the events
permissions (added, never removed from what an admin set). Afterwards both are data."""

from django.db import migrations

# code, name, English name, is dispute, children [(code, name, English name)]
TYPES = [
    ("dispute", "矛盾纠纷", "Disputes", True, [
        ("dispute-neighbour", "邻里纠纷", "Neighbour dispute"),
        ("dispute-family", "婚姻家庭纠纷", "Marriage and family dispute"),
        ("dispute-wages", "劳动欠薪", "Unpaid wages"),
        ("dispute-work-injury", "工伤赔偿", "Work injury compensation"),
        ("dispute-consumer", "消费纠纷", "Consumer dispute"),
        ("dispute-property-management", "物业纠纷", "Property management dispute"),
        ("dispute-land", "土地山林纠纷", "Land and forest dispute"),
    ]),
    ("hazard", "安全隐患", "Safety hazards", False, [
        ("hazard-fire", "消防隐患", "Fire safety"),
        ("hazard-production", "生产安全", "Production safety"),
        ("hazard-traffic", "道路交通", "Road traffic"),
        ("hazard-delivery", "寄递安全", "Delivery and postal safety"),
    ]),
    ("public-order", "治安", "Public order", False, [
        ("public-order-hazard", "治安隐患", "Public order hazard"),
        ("public-order-key-persons", "重点人员", "Key persons"),
    ]),
    ("environment", "生态环境", "Environment", False, [
        ("environment-sewage", "污水", "Sewage"),
        ("environment-waste", "垃圾", "Waste"),
        ("environment-noise", "噪声", "Noise"),
    ]),
    ("market", "市场监管", "Market supervision", False, [
        ("market-food", "食品安全", "Food safety"),
        ("market-price", "价格", "Prices"),
        ("market-unlicensed", "无证经营", "Unlicensed business"),
    ]),
    ("livelihood", "民生诉求", "Livelihood requests", False, [
        ("livelihood-roads", "道路设施", "Roads and facilities"),
        ("livelihood-utilities", "供水供电", "Water and power supply"),
        ("livelihood-sanitation", "环境卫生", "Sanitation"),
    ]),
    ("other", "其他", "Other", False, []),
]

from pingan.events.permissions import GRANTS  # noqa: E402  (the same table the demo and tests use)


def install_types(apps, schema_editor=None):
    EventType = apps.get_model("events", "EventType")
    for order, (code, name, name_en, is_dispute, children) in enumerate(TYPES, start=1):
        parent, _ = EventType.objects.get_or_create(
            code=code, defaults={"name": name, "name_en": name_en, "is_dispute": is_dispute, "order": order * 10}
        )
        for child_order, (child_code, child_name, child_en) in enumerate(children, start=1):
            EventType.objects.get_or_create(
                code=child_code,
                defaults={"name": child_name, "name_en": child_en, "parent": parent, "is_dispute": is_dispute,
                          "order": order * 10 + child_order},
            )


def grant(apps, schema_editor=None):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(code__in=GRANTS):
        perms = list(role.permissions or [])
        added = [code for code in GRANTS[role.code] if code not in perms]
        if added:
            role.permissions = perms + added
            role.save(update_fields=["permissions"])


def install(apps, schema_editor):
    install_types(apps, schema_editor)
    grant(apps, schema_editor)


def uninstall(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(code__in=GRANTS):
        every = {code for codes in GRANTS.values() for code in codes}
        role.permissions = [code for code in role.permissions or [] if code not in every]
        role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_default_roles_and_departments"),
        ("events", "0001_initial"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
