"""What the public self-submission pages say, in English and Dutch: plain language, short
sentences. The templates hold structure only; every word a person reads is here, so a
translation is one table. Pure data."""

from __future__ import annotations

LANGUAGES = ("en", "nl")

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "lang_name": "English",
        "other_lang": "Nederlands",
        "title": "Stop your images from being shared",
        "intro": "If a nude or sexual photo or video of you exists, you can have it blocked on "
        "the platforms that take part. You do not send us the image. Your device makes a "
        "digital fingerprint (a hash) of each file, and only those fingerprints are sent.",
        "stays": "Your files never leave your device. Nobody here sees them.",
        "no_data": "We do not ask your name, e-mail or anything else about you, and we do not "
        "keep your internet address.",
        "review": "A person at the hotline checks each case before platforms act on it. They "
        "see only fingerprints, never your images.",
        "limits": "Only platforms that can see the content they host can check it: services "
        "with end-to-end encryption cannot.",
        "no_js": "Making the fingerprints needs JavaScript, which is switched off in this "
        "browser. You can still look up or withdraw a case below.",
        "files_title": "Your photos and videos",
        "pick": "Choose photos and videos",
        "pick_hint": "Up to 100 files. They are read here, on your device.",
        "hashing": "Making fingerprints",
        "ready": "These fingerprints will be sent:",
        "file": "File",
        "kind": "Kind",
        "image": "photo",
        "video": "video",
        "other": "other file",
        "note_pdq": "too plain or small to match by look; matched only as an exact copy",
        "note_error": "could not be read",
        "send": "Send the fingerprints",
        "sending": "Sending…",
        "sent_title": "Received",
        "sent": "Write these down now. You need both to check or withdraw your case. We cannot "
        "show the PIN again or recover it.",
        "case": "Case number",
        "pin": "PIN",
        "failed": "Sending failed. Nothing was stored. Try again.",
        "too_many": "More than 100 files. Choose at most 100 at a time.",
        "look_title": "Look up or withdraw a case",
        "look": "Look up",
        "withdraw": "Withdraw",
        "withdraw_hint": "Withdrawing takes the fingerprints off the list for good.",
        "state_title": "Case",
        "state_received": "Received: waiting for review.",
        "state_active": "Active: platforms that take part block these images.",
        "state_rejected": "Not accepted.",
        "state_withdrawn": "Withdrawn: the fingerprints are off the list.",
        "file_received": "waiting for review",
        "file_active": "active",
        "file_rejected": "not accepted",
        "file_withdrawn": "withdrawn",
        "known_image": "a known, ordinary image",
        "matched": "Platforms that found a copy",
        "acted": "Platforms that took a copy down",
        "not_found": "No case with this number and PIN.",
        "slow_down": "Too many tries. Wait a few minutes and try again.",
        "bad_form": "Fill in the case number and the PIN.",
        "unavailable": "The service cannot answer just now. Try again later.",
        "platforms_title": "Platforms that take part",
        "platforms_intro": "These platforms check what is uploaded against the list:",
        "platforms_none": "No platform is listed yet.",
        "platforms_link": "Which platforms take part?",
        "back": "Back",
        "help": "Need to talk to someone? Contact the hotline that runs this service.",
    },
    "nl": {
        "lang_name": "Nederlands",
        "other_lang": "English",
        "title": "Voorkom dat je beelden worden gedeeld",
        "intro": "Bestaat er een naaktfoto of seksuele video van jou? Dan kun je die laten "
        "blokkeren op de platforms die meedoen. Je stuurt ons het beeld niet. Je apparaat "
        "maakt van elk bestand een digitale vingerafdruk (een hash), en alleen die "
        "vingerafdrukken worden verstuurd.",
        "stays": "Je bestanden verlaten je apparaat nooit. Niemand hier ziet ze.",
        "no_data": "We vragen niet je naam, e-mail of iets anders over jou, en we bewaren je "
        "internetadres niet.",
        "review": "Een medewerker van het meldpunt bekijkt elke zaak voordat platforms er iets "
        "mee doen. Die ziet alleen vingerafdrukken, nooit je beelden.",
        "limits": "Alleen platforms die de inhoud kunnen zien die ze hosten, kunnen controleren: "
        "diensten met end-to-end-versleuteling kunnen dat niet.",
        "no_js": "Voor het maken van de vingerafdrukken is JavaScript nodig, en dat staat uit in "
        "deze browser. Hieronder kun je wel een zaak opzoeken of intrekken.",
        "files_title": "Je foto's en video's",
        "pick": "Kies foto's en video's",
        "pick_hint": "Tot 100 bestanden. Ze worden hier gelezen, op je eigen apparaat.",
        "hashing": "Vingerafdrukken maken",
        "ready": "Deze vingerafdrukken worden verstuurd:",
        "file": "Bestand",
        "kind": "Soort",
        "image": "foto",
        "video": "video",
        "other": "ander bestand",
        "note_pdq": "te egaal of te klein om op uiterlijk te herkennen; alleen een exacte kopie "
        "wordt herkend",
        "note_error": "kon niet worden gelezen",
        "send": "Verstuur de vingerafdrukken",
        "sending": "Versturen…",
        "sent_title": "Ontvangen",
        "sent": "Schrijf deze nu op. Je hebt ze allebei nodig om je zaak te bekijken of in te "
        "trekken. We kunnen de pincode niet opnieuw tonen of terughalen.",
        "case": "Zaaknummer",
        "pin": "Pincode",
        "failed": "Versturen is mislukt. Er is niets bewaard. Probeer het opnieuw.",
        "too_many": "Meer dan 100 bestanden. Kies er hoogstens 100 tegelijk.",
        "look_title": "Een zaak opzoeken of intrekken",
        "look": "Opzoeken",
        "withdraw": "Intrekken",
        "withdraw_hint": "Intrekken haalt de vingerafdrukken voorgoed van de lijst.",
        "state_title": "Zaak",
        "state_received": "Ontvangen: wacht op controle.",
        "state_active": "Actief: platforms die meedoen blokkeren deze beelden.",
        "state_rejected": "Niet geaccepteerd.",
        "state_withdrawn": "Ingetrokken: de vingerafdrukken staan niet meer op de lijst.",
        "file_received": "wacht op controle",
        "file_active": "actief",
        "file_rejected": "niet geaccepteerd",
        "file_withdrawn": "ingetrokken",
        "known_image": "een bekend, gewoon beeld",
        "matched": "Platforms die een kopie vonden",
        "acted": "Platforms die een kopie verwijderden",
        "not_found": "Geen zaak met dit nummer en deze pincode.",
        "slow_down": "Te veel pogingen. Wacht een paar minuten en probeer het opnieuw.",
        "bad_form": "Vul het zaaknummer en de pincode in.",
        "unavailable": "De dienst kan nu niet antwoorden. Probeer het later opnieuw.",
        "platforms_title": "Platforms die meedoen",
        "platforms_intro": "Deze platforms controleren wat er wordt geüpload met de lijst:",
        "platforms_none": "Er staat nog geen platform op de lijst.",
        "platforms_link": "Welke platforms doen mee?",
        "back": "Terug",
        "help": "Wil je met iemand praten? Neem contact op met het meldpunt dat deze dienst "
        "aanbiedt.",
    },
}


def language(query: str, accept: str) -> str:
    """``lang=`` from the query if it names one, else the first of ours the browser accepts,
    else English."""
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if name == "lang" and value in LANGUAGES:
            return value
    for part in accept.split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return "en"
