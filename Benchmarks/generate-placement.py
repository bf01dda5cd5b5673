#!/usr/bin/env python3
"""Writes a realistic French placement file: `;`, decimal comma with thousands spaces,
dd/mm/yyyy, UTF-8 with BOM, CRLF, French headers, quoted addresses holding `;`.
About a third of debtors have several invoices. Deterministic for a given seed.

usage: generate-placement.py ROWS OUTPUT [SEED]"""
import random
import sys

rows = int(sys.argv[1])
out = sys.argv[2]
rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 42)

FIRST = ["Jeanne", "Louis", "Camille", "Hugo", "Léa", "Lucas", "Chloé", "Gabriel", "Manon", "Jules", "Inès", "Raphaël", "Zoé", "Arthur", "Élodie", "Théo"]
LAST = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "Roux"]
TRADES = ["Boulangerie", "Garage", "Menuiserie", "Pharmacie", "Transports", "Plomberie", "Imprimerie", "Librairie", "Traiteur", "Électricité"]
FORMS = ["SARL", "SAS", "EURL", "SA", "SNC"]
STREETS = ["rue de la République", "avenue Jean Jaurès", "boulevard Victor Hugo", "place de l'Église", "chemin des Vignes", "allée des Tilleuls"]
CITIES = [("75011", "Paris"), ("69003", "Lyon"), ("13001", "Marseille"), ("31000", "Toulouse"), ("44000", "Nantes"), ("67000", "Strasbourg"), ("33000", "Bordeaux"), ("59000", "Lille")]


def siren(n):
    base = [int(c) for c in f"{n % 100000000:08d}"]
    for check in range(10):
        digits = base + [check]
        total = 0
        for i, d in enumerate(reversed(digits)):
            d = d * 2 if i % 2 == 1 else d
            total += d - 9 if d > 9 else d
        if total % 10 == 0:
            return "".join(map(str, digits))


def amount(cents):
    euros, c = divmod(cents, 100)
    text = f"{euros:,}".replace(",", " ")
    return f"{text},{c:02d}"


debtors = max(1, rows * 2 // 3)
with open(out, "w", encoding="utf-8", newline="") as f:
    f.write("\ufeff")
    f.write("Référence;N° Facture;Date facture;Échéance;Montant TTC;Type;Raison sociale;Prénom;Nom;SIREN;Courriel;Téléphone;Adresse;Code postal;Ville\r\n")
    for i in range(rows):
        d = rng.randrange(debtors)
        drng = random.Random(d)
        company = drng.random() < 0.35
        postal, city = CITIES[drng.randrange(len(CITIES))]
        address = f"{drng.randrange(1, 200)} {STREETS[drng.randrange(len(STREETS))]}"
        if drng.random() < 0.1:
            address = f'"{address}; bât. {chr(65 + drng.randrange(6))}"'
        day, month = rng.randrange(1, 29), rng.randrange(1, 13)
        year = rng.choice([2023, 2024, 2025])
        year = 2024 if year == 2025 and month == 12 else year
        issue = f"{day:02d}/{month:02d}/{year}"
        due_month = month + 1 if month < 12 else 1
        due_year = year if month < 12 else year + 1
        due = f"{day:02d}/{due_month:02d}/{due_year}"
        cents = int(rng.lognormvariate(10.5, 1.2)) + 100
        if company:
            name = f"{TRADES[drng.randrange(len(TRADES))]} {LAST[drng.randrange(len(LAST))]} {FORMS[drng.randrange(len(FORMS))]}"
            row = [f"REF-{i:08d}", f"FA-{year}-{i:07d}", issue, due, amount(cents), "entreprise", name, "", "", siren(d + 10000000),
                   f"compta{d}@entreprise{d % 997}.fr", f"01 {d % 100:02d} {d // 100 % 100:02d} {d // 10000 % 100:02d} {d % 89:02d}", address, postal, city]
        else:
            first, last = FIRST[drng.randrange(len(FIRST))], LAST[drng.randrange(len(LAST))]
            row = [f"REF-{i:08d}", f"FA-{year}-{i:07d}", issue, due, amount(cents), "particulier", "", first, last, "",
                   f"{first.lower()}.{last.lower()}{d}@example.fr".replace("é", "e").replace("è", "e").replace("ë", "e").replace("ï", "i"),
                   f"06 {d % 100:02d} {d // 100 % 100:02d} {d // 10000 % 100:02d} {d % 97:02d}", address, postal, city]
        f.write(";".join(row) + "\r\n")
