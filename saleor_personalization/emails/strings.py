"""The built-in wording of the reminder emails in English, Turkish and Hungarian."""

# Turkish has a dotless i (U+0131) that ruff takes for a look-alike; it is meant.
# ruff: noqa: RUF001

STRINGS: dict[str, dict] = {
    "en": {
        "subjects": {
            1: (
                "{{#if first_name}}{{first_name}}, you{{else}}You{{/if}} "
                "left something in your cart"
            ),
            2: "Still thinking it over? Your cart is waiting",
            3: "Your cart is about to expire{{#if voucher_code}}, here is a little extra{{/if}}",
        },
        "heading": "Your cart is waiting",
        "hello": "Hi {name},",
        "hello_anonymous": "Hi,",
        "intro": {
            1: "you left these in your cart. They are still there when you are ready.",
            2: "your cart is saved. You might also like a few things picked for you.",
            3: "this is the last reminder: your cart will not be kept much longer.",
        },
        "quantity": "Quantity",
        "total": "Total",
        "button": "Return to your cart",
        "recommendations": "Picked for you",
        "offer": "Your personal code:",
        "offer_expires": "Valid until",
        "footer": "You receive this because you started a checkout with this address.",
        "unsubscribe": "Unsubscribe from these emails",
        "unsubscribed": "You are unsubscribed. You will not receive these emails again.",
        "unsubscribe_confirm": "Stop reminder and marketing emails to this address?",
        "unsubscribe_expired": (
            "This unsubscribe link has expired. Use the link in a more recent email from us, "
            "or reply to it and we will unsubscribe you."
        ),
        "unsubscribe_button": "Unsubscribe",
    },
    "tr": {
        "subjects": {
            1: "{{#if first_name}}{{first_name}}, sepetinizde{{else}}Sepetinizde{{/if}} ürün kaldı",
            2: "Hâlâ karar veremediniz mi? Sepetiniz sizi bekliyor",
            3: "Sepetinizin süresi doluyor{{#if voucher_code}}, size özel bir indirim var{{/if}}",
        },
        "heading": "Sepetiniz sizi bekliyor",
        "hello": "Merhaba {name},",
        "hello_anonymous": "Merhaba,",
        "intro": {
            1: "bu ürünleri sepetinizde bıraktınız. Hazır olduğunuzda hâlâ orada olacaklar.",
            2: "sepetiniz kaydedildi. Sizin için seçtiğimiz birkaç ürün de ilginizi çekebilir.",
            3: "bu son hatırlatma: sepetiniz çok daha uzun süre saklanmayacak.",
        },
        "quantity": "Adet",
        "total": "Toplam",
        "button": "Sepetinize dönün",
        "recommendations": "Sizin için seçtiklerimiz",
        "offer": "Size özel kodunuz:",
        "offer_expires": "Son geçerlilik tarihi",
        "footer": "Bu e-postayı, bu adresle bir alışveriş başlattığınız için alıyorsunuz.",
        "unsubscribe": "Bu e-postaların aboneliğinden çıkın",
        "unsubscribed": "Aboneliğiniz iptal edildi. Bu e-postaları bir daha almayacaksınız.",
        "unsubscribe_confirm": ("Bu adrese hatırlatma ve pazarlama e-postaları durdurulsun mu?"),
        "unsubscribe_expired": (
            "Bu abonelikten çıkma bağlantısının süresi doldu. Daha yeni bir e-postamızdaki "
            "bağlantıyı kullanın ya da yanıtlayın, aboneliğinizi biz iptal edelim."
        ),
        "unsubscribe_button": "Abonelikten çık",
    },
    "hu": {
        "subjects": {
            1: "{{#if first_name}}{{first_name}}, a{{else}}A{{/if}} kosaradban maradt valami",
            2: "Még gondolkodsz? A kosarad vár rád",
            3: "Hamarosan lejár a kosarad{{#if voucher_code}}, itt egy kis meglepetés{{/if}}",
        },
        "heading": "A kosarad vár rád",
        "hello": "Szia {name}!",
        "hello_anonymous": "Szia!",
        "intro": {
            1: "Ezeket a termékeket a kosaradban hagytad. Ott lesznek, amikor visszatérsz.",
            2: "A kosarad mentve van. Válogattunk neked néhány terméket is.",
            3: "Ez az utolsó emlékeztető: a kosaradat már nem sokáig őrizzük.",
        },
        "quantity": "Mennyiség",
        "total": "Összesen",
        "button": "Vissza a kosárhoz",
        "recommendations": "Neked válogattuk",
        "offer": "Személyes kódod:",
        "offer_expires": "Érvényes eddig:",
        "footer": "Azért kapod ezt a levelet, mert ezzel a címmel kezdtél vásárlást.",
        "unsubscribe": "Leiratkozás ezekről a levelekről",
        "unsubscribed": "Leiratkoztál. Ezeket a leveleket többé nem kapod meg.",
        "unsubscribe_confirm": "Leállítsuk az emlékeztető és marketing leveleket erre a címre?",
        "unsubscribe_expired": (
            "Ez a leiratkozási link lejárt. Használd egy újabb levelünk linkjét, vagy válaszolj "
            "rá, és mi leiratkoztatunk."
        ),
        "unsubscribe_button": "Leiratkozás",
    },
}

DEFAULT_LANGUAGE = "en"


def language_of(code: str) -> str:
    """'tr-TR', 'TR' or 'tr' -> 'tr'; unknown languages get English."""
    short = (code or "").replace("_", "-").split("-")[0].lower()
    return short if short in STRINGS else DEFAULT_LANGUAGE


def strings_for(code: str) -> dict:
    return STRINGS[language_of(code)]
