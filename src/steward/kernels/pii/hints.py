"""Column-name hints in English, German, French, Spanish, Italian, Dutch, Swedish and Polish.

A column name is split into lowercase ASCII tokens (camelCase and snake_case split,
accents folded: "Geburtsdatum" → ``geburtsdatum``, "fechaDeNacimiento" →
``fecha de nacimiento``, "płeć" → ``plec``). A hint *phrase* matches a run of whole tokens,
so ``age`` matches "patient_age" but not "mortgage" or "page_views". A *stem* matches
anywhere inside the name with separators removed; stems catch the compound words of
German, Dutch and Swedish ("Kundentelefonnummer", "woonadres", "fodelsedatum").

When two hints overlap, the one covering more of the name wins, so "email_address" is an
email hint rather than an address hint and "ip_address" is an IP hint. Person-name hints
are dropped when the name says whose name it is not ("company_name", "clinic_name"), and
every hint is dropped when the name says it measures something ("zip_file_size",
"birth_rate", "name_length", "account_age_days").

The same folding applies to *values* of the classes whose values are words (gender,
ethnicity, religion, sexual orientation, health conditions): :data:`VOCABULARIES`. A value
matches when its folded form is a listed phrase, or every word of it is a listed word and
one is *distinctive*. Distinctive words tell a column apart from look-alikes: "white" and
"black" are ethnicity words but also colours, "m" is a gender code but also a size,
"positive" is a test result; without a name hint, a column needs a distinctive word.
Sources: US OMB race and ethnicity categories (1997, 2024), UK ONS 2021 census ethnic
groups, WHO ICD-10 chapter titles for common conditions.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from steward.kernels.pii.types import NATIONAL_IDS

__all__ = [
    "NATIONAL_ID_HINTS",
    "VOCABULARIES",
    "NameHints",
    "Vocabulary",
    "name_hints",
    "name_tokens",
]


def _phrases(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())


_PHRASES: dict[str, tuple[str, ...]] = {
    "person_name": _phrases(
        "name, full name, first name, last name, given name, family name, middle name, maiden "
        "name, surname, forename, firstname, lastname, fullname, cardholder, card holder, "
        "account holder, holder name, vorname, nachname, familienname, rufname, nom, prenom, "
        "nom de famille, nom complet, nombre, apellido, apellidos, nombre completo, nome, "
        "cognome, nominativo, naam, voornaam, achternaam, familienaam, roepnaam, namn, "
        "fornamn, efternamn, imie, nazwisko"
    ),
    "email": _phrases(
        "email, e mail, mail, email address, mail address, courriel, adresse mail, adresse "
        "email, correo, correo electronico, posta elettronica, e post, epost, emailadres, "
        "mailadres, adres email"
    ),
    "phone": _phrases(
        "phone, phone number, phone no, telephone, tel, tel no, telefon, handy, mobil, mobile,"
        " mobile number, cell, cellphone, cell phone, portable, telefono, movil, celular, "
        "cellulare, numero di telefono, telefoon, mobiel, gsm, numer telefonu, komorka, fax, "
        "contact number"
    ),
    "postal_address": _phrases(
        "address, addr, street, street address, address line, address line 1, home address, "
        "residence, residential address, mailing address, billing address, shipping address, "
        "adresse, anschrift, strasse, wohnadresse, rue, domicile, adresse postale, direccion, "
        "domicilio, calle, indirizzo, residenza, adres, straat, straatnaam, woonadres, adress,"
        " gatuadress, postadress, hemadress, ulica, adres zamieszkania"
    ),
    "postcode": _phrases(
        "postcode, post code, postal code, zip, zip code, zipcode, postleitzahl, plz, code "
        "postal, =cp, codigo postal, =cap, codice postale, postnummer, postnr, kod pocztowy"
    ),
    "iban": _phrases(
        "iban, bank account, account number, kontonummer, bankverbindung, rib, compte "
        "bancaire, numero de compte, cuenta, cuenta bancaria, conto, conto corrente, "
        "rekeningnummer, rekening, bankkonto, konto, numer konta, rachunek"
    ),
    "payment_card": _phrases(
        "card, card number, credit card, debit card, cc, cc number, pan, kreditkarte, "
        "kartennummer, carte, carte bancaire, numero de carte, tarjeta, numero de tarjeta, "
        "carta, carta di credito, creditcard, kaart, kaartnummer, kort, kortnummer, karta, "
        "numer karty"
    ),
    "ip_address": _phrases(
        "ip, ip address, ipv4, ipv6, ip addr, client ip, remote addr, remote address, source "
        "ip, ip adresse, adresse ip, direccion ip, indirizzo ip, ip adres"
    ),
    "mac_address": _phrases(
        "mac, mac address, hw address, hwaddr, bssid, mac adresse, adresse mac"
    ),
    "passport": _phrases(
        "passport, passport number, passport no, reisepass, reisepassnummer, passnummer, "
        "passeport, numero de passeport, pasaporte, passaporto, paspoort, paspoortnummer, "
        "pass, passnr, paszport"
    ),
    "date_of_birth": _phrases(
        "dob, birth, birthdate, birth date, date of birth, birthday, born, geburtsdatum, "
        "geburtstag, geboren, gebdat, date naissance, date de naissance, naissance, fecha "
        "nacimiento, fecha de nacimiento, nacimiento, data nascita, data di nascita, nascita, "
        "geboortedatum, fodelsedatum, fodd, fodelsedag, data urodzenia, urodzony"
    ),
    "age": _phrases(
        "age, age years, alter, lebensalter, edad, =eta, leeftijd, alder, wiek, years old, age"
        " group, age band, agegroup"
    ),
    "gender": _phrases(
        "gender, sex, geschlecht, sexe, =genre, sexo, genero, genere, sesso, geslacht, kon, "
        "plec, gender identity"
    ),
    "ethnicity": _phrases(
        "ethnicity, ethnic, ethnic group, ethnic origin, race, racial, race ethnicity, ethnie,"
        " ethnische herkunft, origine ethnique, etnia, etnicidad, raza, etnico, razza, "
        "etniciteit, etnische, afkomst, etnicitet, etnisk, pochodzenie etniczne, afam, "
        "hispanic, latino, nonwhite, minority"
    ),
    "religion": _phrases(
        "religion, religious, faith, denomination, confession, konfession, "
        "religionszugehorigkeit, religione, religie, geloof, religia, wyznanie"
    ),
    "sexual_orientation": _phrases(
        "sexual orientation, orientation sexuelle, sexuelle orientierung, orientacion sexual, "
        "orientamento sessuale, seksuele orientatie, sexuell laggning, orientacja seksualna, "
        "sexuality, lgbt, lgbtq"
    ),
    "health_condition": _phrases(
        "diagnosis, diagnoses, medical condition, health condition, health, disease, illness, "
        "comorbidity, comorbidities, allergy, allergies, symptoms, medical history, "
        "medication, diagnose, krankheit, erkrankung, vorerkrankung, medikament, maladie, "
        "pathologie, diagnostic, enfermedad, padecimiento, diagnostico, malattia, patologia, "
        "diagnosi, ziekte, aandoening, sjukdom, diagnos, choroba, rozpoznanie"
    ),
    "icd10_code": _phrases(
        "icd, icd10, icd 10, icd code, icd10 code, diagnosis code, dx code, dx, cim10, cim 10,"
        " cie10, cie 10, icd10gm"
    ),
    "job_title": _phrases(
        "=job, job title, occupation, profession, emp title, employment title, position title,"
        " beruf, berufsbezeichnung, tatigkeit, metier, emploi, =poste, ocupacion, profesion, "
        "puesto, professione, occupazione, mansione, beroep, functie, yrke, befattning, zawod,"
        " stanowisko"
    ),
    "free_text_with_identifiers": _phrases(
        "notes, note, comment, comments, remarks, remark, message, text, body, feedback, "
        "bemerkung, bemerkungen, kommentar, notiz, commentaire, remarque, observations, "
        "comentario, comentarios, observaciones, nota, commento, osservazioni, opmerking, "
        "toelichting, anteckning, uwagi, komentarz"
    ),
}

_STEMS: dict[str, tuple[str, ...]] = {
    "person_name": _phrases(
        "vorname, nachname, familienname, voornaam, achternaam, fornamn, efternamn, firstname,"
        " lastname, surname, nazwisk"
    ),
    "email": _phrases("email, emailadres, emailadresse, mailadres, mailadresse, epost"),
    "phone": _phrases(
        "telefon, telephon, phone, handynummer, mobilnummer, telefoon, mobiel, telefono"
    ),
    "postal_address": _phrases(
        "adresse, anschrift, strasse, straat, gatuadress, postadress, indirizzo, direccion, "
        "woonadres"
    ),
    "postcode": _phrases("postcode, zipcode, postleitzahl, postnummer, postalcode, codigopostal"),
    "iban": _phrases("iban, kontonummer, rekeningnummer"),
    "payment_card": _phrases("kreditkart, creditcard, kartennummer, cardnumber"),
    "passport": _phrases(
        "passport, reisepass, passnummer, paspoort, pasaporte, passaporto, paszport, passeport"
    ),
    "date_of_birth": _phrases(
        "geburt, birth, naissance, nacimiento, nascita, geboorte, fodelse, urodzen"
    ),
    "age": _phrases("leeftijd, lebensalter"),
    "gender": _phrases("geschlecht, geslacht"),
    "ethnicity": _phrases("ethnic, etnisk, etnisch"),
    "religion": _phrases("religio, konfession"),
    "health_condition": _phrases("diagnos, krankheit, erkrankung, ziekte"),
    "job_title": _phrases("berufsbez, occupation"),
}

#: Names that point at any national identifier or personal tax number.
NATIONAL_ID_HINTS: tuple[str, ...] = _phrases(
    "national id, national identifier, national number, personal id, personal number, personal"
    " code, id number, id no, identity number, identification number, tax id, tax number, tin,"
    " taxpayer id, citizen id, personalausweis, ausweisnummer, ausweis, steuernummer, numero "
    "identite, numero d identification, carte d identite, numero fiscal, documento, numero "
    "documento, codice identificativo, identiteitsnummer, persoonsnummer, id nummer, "
    "identitetsnummer, numer identyfikacyjny, numer dowodu, dowod, personnummer"
)

# Words saying that a "name" column names something other than a person.
_NOT_A_PERSON = frozenset(
    _phrases(
        "app, azienda, bank, bedrijf, branch, brand, building, business, campaign, category, "
        "city, clinic, column, companies, company, country, county, course, dataset, "
        "department, dept, device, disease, domain, drug, employer, empresa, entreprise, "
        "event, feature, field, file, filename, firm, firma, foretag, group, hospital, host, "
        "hostname, institution, item, key, label, location, medicine, merchant, model, "
        "network, office, org, organisation, organization, package, place, plan, prodotto, "
        "product, producto, produit, produkt, project, region, role, school, server, sheet, "
        "shop, site, societe, species, state, store, street, supplier, table, tag, task, team,"
        " test, town, university, unternehmen, variable, vendor, venue, ward"
    )
)

# Words saying that the column measures something (a count, size, rate or duration)
# rather than holding the thing the rest of the name hints at.
_MEASURE = frozenset(
    _phrases(
        "count, counts, size, length, len, ratio, rate, score, duration, time, total, sum, "
        "avg, mean, median, pct, percent, percentage, share, bytes, kb, mb, qty, quantity, "
        "amount, views, clicks, days, hours, minutes, seconds, anzahl, dauer, summe, betrag, "
        "montant, cantidad, importe, importo, aantal, bedrag, antal, belopp, liczba, kwota"
    )
)
_SPLIT_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_FOLD = str.maketrans(
    {
        "ß": "ss",
        "ł": "l",
        "Ł": "L",
        "ø": "o",
        "Ø": "O",
        "æ": "ae",
        "Æ": "AE",
        "đ": "d",
        "Đ": "D",
        "ı": "i",
    }
)


def name_tokens(name: str) -> tuple[str, ...]:
    """Lowercase ASCII tokens of a column name (camelCase split, accents folded)."""
    folded = unicodedata.normalize("NFKD", name.translate(_FOLD))
    ascii_name = "".join(ch for ch in folded if not unicodedata.combining(ch))
    spaced = _SPLIT_CAMEL.sub(" ", ascii_name).lower()
    return tuple(t for t in _NON_ALNUM.split(spaced) if t)


@dataclass(frozen=True)
class NameHints:
    """What a column name says: the classes it hints at, with the words that matched."""

    tokens: tuple[str, ...]
    types: dict[str, str]
    national_id: str | None

    def hint_for(self, pii_type: str) -> str | None:
        """The hint phrase naming ``pii_type`` (or, for identifiers, any national id)."""
        if pii_type in self.types:
            return self.types[pii_type]
        if pii_type.startswith("national_id.") and self.national_id:
            return self.national_id
        return None


def _compile(
    phrases: dict[str, tuple[str, ...]],
) -> list[tuple[str, tuple[str, ...], str, bool]]:
    out = []
    for pii_type, words in phrases.items():
        for phrase in words:
            # "=word": a word with a common other meaning ("job", "genre", "cap"), which
            # counts only as the whole name.
            whole = phrase.startswith("=")
            phrase = phrase.lstrip("=")
            out.append((pii_type, tuple(phrase.split()), phrase, whole))
    return out


_PHRASE_TABLE = _compile(
    {
        **_PHRASES,
        **{f"national_id.{n.key}": n.hints for n in NATIONAL_IDS},
        "national_id": NATIONAL_ID_HINTS,
    }
)


def _find(tokens: tuple[str, ...], phrase: tuple[str, ...]) -> int:
    k = len(phrase)
    for i in range(len(tokens) - k + 1):
        if tokens[i : i + k] == phrase:
            return i
    return -1


def name_hints(name: str) -> NameHints:
    """Match a column name against the hint tables; overlapping hints resolve to the
    one covering more of the name (ties: the longer phrase)."""
    tokens = name_tokens(name)
    compact = "".join(tokens)
    # (type, phrase, start, end, length); stems span the whole name
    found: list[tuple[str, str, int, int, int]] = []
    for pii_type, words, phrase, whole in _PHRASE_TABLE:
        at = (0 if tokens == words else -1) if whole else _find(tokens, words)
        if at >= 0:
            found.append((pii_type, phrase, at, at + len(words), len(phrase)))
    for pii_type, stems in _STEMS.items():
        for stem in stems:
            if stem in compact and not any(t == stem for t in tokens):
                found.append((pii_type, stem, 0, len(tokens), len(stem)))
    kept: dict[str, tuple[str, int]] = {}
    for m in found:
        covered = any(
            o is not m
            and o[0] != m[0]
            and o[2] <= m[2]
            and m[3] <= o[3]
            and ((o[3] - o[2]) > (m[3] - m[2]) or o[4] > m[4])
            for o in found
        )
        if covered:
            continue
        if m[0] not in kept or m[4] > kept[m[0]][1]:
            kept[m[0]] = (m[1], m[4])
    types = {k: v[0] for k, v in kept.items()}
    if "person_name" in types and any(t in _NOT_A_PERSON for t in tokens):
        del types["person_name"]
    if any(t in _MEASURE for t in tokens):
        types = {}  # "zip_file_size", "birth_rate", "name_length": a measurement about it
    generic = types.pop("national_id", None)
    return NameHints(tokens=tokens, types=types, national_id=generic)


@dataclass(frozen=True)
class Vocabulary:
    """Phrases and words of one class; ``distinctive`` words identify it on their own."""

    pii_type: str
    phrases: frozenset[str]
    words: frozenset[str]
    distinctive: frozenset[str]
    suffixes: tuple[str, ...] = ()  # word endings that are distinctive (e.g. "itis")

    def match(self, tokens: tuple[str, ...]) -> int:
        """2: distinctive match, 1: match with common words only, 0: no match."""
        if not tokens:
            return 0
        phrase = " ".join(tokens)
        known = phrase in self.phrases or all(t in self.words or self._suffixed(t) for t in tokens)
        if not known:
            if not any(t in self.distinctive or self._suffixed(t) for t in tokens):
                return 0
            # "type 2 diabetes", "breast cancer stage ii": a distinctive word among others
            return 2 if len(tokens) <= 5 else 0
        distinct = any(t in self.distinctive or self._suffixed(t) for t in tokens)
        return 2 if distinct or phrase in self.distinctive else 1

    def _suffixed(self, token: str) -> bool:
        return len(token) >= 7 and token.endswith(self.suffixes) if self.suffixes else False


def _v(
    pii_type: str, phrases: str, common: str, distinctive: str, suffixes: tuple[str, ...] = ()
) -> Vocabulary:
    ps = frozenset(" ".join(name_tokens(p)) for p in phrases.split(",") if p.strip())
    dist = frozenset(distinctive.split())
    words = frozenset(common.split()) | dist | {w for p in ps for w in p.split()}
    return Vocabulary(pii_type, ps, words, dist, suffixes)


VOCABULARIES: dict[str, Vocabulary] = {
    v.pii_type: v
    for v in (
        _v(
            "gender",
            "prefer not to say, not known, not specified, non binary, gender fluid",
            "m f w k x u d other unknown unspecified diverse divers n a",
            "male female man woman men women boy girl nonbinary transgender trans genderqueer "
            "agender intersex mannlich weiblich mann frau homme femme masculin feminin "
            "masculine feminine hombre mujer masculino femenino maschio femmina uomo donna "
            "maschile femminile vrouw mannelijk vrouwelijk kvinna kvinnlig manlig mezczyzna "
            "kobieta meski zenski",
        ),
        _v(
            "ethnicity",
            "black or african american, american indian or alaska native, native hawaiian "
            "or other pacific islander, two or more races, hispanic or latino, not hispanic "
            "or latino, white british, white irish, mixed race, middle eastern, south asian, "
            "east asian",
            "white black other mixed unknown or and not non two more races race american "
            "british irish other native alaska pacific middle eastern south east north west "
            "indian chinese pakistani bangladeshi caribbean traveller gypsy roma groups group "
            "background any",
            "asian hispanic latino latina latinx caucasian african islander indigenous "
            "aboriginal multiracial biracial hawaiian arab afro maori inuit metis "
            "mestizo nonwhite",
        ),
        _v(
            "religion",
            "no religion, roman catholic, jehovah's witness, latter day saints",
            "none other no religion roman unknown",
            "christian christianity catholic protestant evangelical orthodox anglican "
            "lutheran baptist methodist mormon muslim islam islamic sunni shia jewish judaism "
            "hindu hinduism buddhist buddhism sikh sikhism jain jainism bahai taoist taoism "
            "shinto atheist atheism agnostic pagan christlich katholisch evangelisch "
            "muslimisch judisch konfessionslos catholique musulman juif athee catolico "
            "musulmana judio ateo cattolico musulmano ebreo katholiek protestants moslim "
            "joods kristen judisk ateist katolik katolicki prawoslawny muzulmanin ateista "
            "zyd",
        ),
        _v(
            "sexual_orientation",
            "prefer not to say",
            "other unknown straight questioning",
            "heterosexual homosexual gay lesbian bisexual pansexual asexual queer "
            "heterosexuell homosexuell bisexuell heterosexuel homosexuel bisexuel "
            "heterosexuale eterosessuale omosessuale bisessuale heteroseksueel homoseksueel "
            "biseksueel heteroseksualny homoseksualny biseksualny lgbt lgbtq",
        ),
        _v(
            "health_condition",
            "high blood pressure, heart disease, heart failure, kidney disease, "
            "chronic kidney disease, multiple sclerosis, bipolar disorder, "
            "coronary artery disease, hoge bloeddruk, hogt blodtryck",
            "type 1 2 i ii chronic acute severe mild stage none healthy positive negative "
            "disorder syndrome infection deficiency disease failure high blood pressure "
            "heart kidney lung breast skin multiple",
            "diabetes asthma hypertension cancer carcinoma melanoma leukemia leukaemia "
            "lymphoma copd depression anxiety covid influenza flu hiv aids hepatitis "
            "arthritis obesity stroke epilepsy dementia alzheimer alzheimers parkinson "
            "parkinsons migraine pneumonia tuberculosis schizophrenia bipolar autism adhd "
            "sclerosis psoriasis eczema allergy celiac crohn crohns colitis anemia anaemia "
            "osteoporosis hypothyroidism hyperthyroidism glaucoma cataract insomnia "
            "bronchitis sepsis malaria measles angina arrhythmia cirrhosis gout lupus "
            "bluthochdruck hypertonie krebs grippe diabete asthme depressione hipertension "
            "cancro ipertensione suikerziekte astma kanker depressie cukrzyca "
            "nadcisnienie depresja asma",
            suffixes=("itis", "osis", "emia", "aemia", "pathy", "algia"),
        ),
    )
}
