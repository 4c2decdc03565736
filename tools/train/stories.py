"""Synthetic short stories in simple English (TinyStories-like), from a small random grammar.

Why: dsv4-mini trained on dictionary glosses, fortunes and chats wrote phrase salad — that
text is too varied for 3.6M parameters and ~15M tokens.  Simple stories are low-entropy,
grammatical English, so a small model can learn to continue them fluently; and every story
names its hero once and then repeats the name (drawn from hundreds of real and made-up
names), which rewards copying from the context — the skill tool arguments need.

    Stories(rng).story()               -> (text, hero_name)
    Stories(rng).story(name=, kind=)   -> a story about a given hero (for "tell me a story
                                          about a cat named Pip" chats)
"""
import random

NAMES_GIRL = """Lily Mia Emma Anna Sara Lucy Ella Zoe Amy Rose Ruby Maya Nora Ivy Luna Daisy
Grace Chloe Hannah Julia Kate Lena Molly Nina Olive Poppy Rita Sophie Tara Vera Alice Bella Clara
Dora Eva Fay Gina Hazel Iris Jane Kim Lola May Nell Pia Rosa Tess Una Wendy""".split()
NAMES_BOY = """Tom Ben Max Sam Leo Jack Tim Finn Noah Luke Adam Dan Eli Hugo Ian Jake Kai Liam
Milo Ned Oscar Paul Ray Theo Toby Victor Will Zack Alex Bob Carl Dave Evan Fred Gus Hank Ivan
Joe Ken Lars Mark Nick Otto Pete Rob Seth Ted Umar Walt""".split()
SYLLABLES = "ba be bi bo bu da di do ka ki ko la le li lo lu ma mi mo na ne ni no pa pe pi po " \
            "ra re ri ro sa si so ta te ti to va vi wa zu".split()
ANIMALS = """cat dog fox bird rabbit bear mouse frog duck owl pig cow horse lamb goat bee fish
turtle squirrel puppy kitten deer hen wolf lion tiger monkey panda""".split()
PEOPLE = ["girl", "boy"]
ADJ_HERO = """little small happy brave kind shy curious funny busy clever young tiny sleepy
friendly gentle""".split()
PLACES = [("park", "in the park"), ("forest", "in the forest"), ("garden", "in the garden"),
          ("river", "by the river"), ("beach", "at the beach"), ("farm", "on a farm"),
          ("town", "in a small town"), ("hill", "on a green hill"), ("lake", "near a big lake"),
          ("woods", "in the woods"), ("village", "in a quiet village"),
          ("meadow", "in a sunny meadow"), ("school", "near the school")]
COLORS = "red blue green yellow pink purple orange white black brown shiny big small old new".split()
OBJECTS = """ball kite hat box book apple boat key shell toy drum cup car doll flower stone
bell map coin balloon blanket leaf feather basket spoon sock shoe truck train star""".split()
FOODS = "apples cake cookies bread soup berries carrots honey milk pie cheese corn".split()
FRIEND_ADJ = "old kind big wise little funny quiet".split()
FEELINGS_GOOD = "happy glad proud excited".split()
FEELINGS_BAD = "sad scared worried upset lonely".split()
WEATHER = ["it started to rain", "the wind blew hard", "the sun was very hot", "it began to snow",
           "dark clouds came", "it got very cold"]
ACTIVITIES = ["play", "run", "jump", "sing", "dance", "draw", "swim", "read", "climb trees",
              "look at the stars", "build things", "help others", "bake", "explore"]
LESSONS = ["It is good to share.", "Friends help each other.", "It is good to be kind.",
           "Never give up.", "Always tell the truth.", "Be careful and listen.",
           "It is fun to try new things.", "Being brave is not always easy, but it is good."]
OPENINGS = ["Once upon a time", "Long ago", "Once", "In a land far away", "There was once"]
AT = {"river": "by the river", "beach": "at the beach", "farm": "on the farm", "hill": "on the hill",
      "lake": "by the lake", "school": "at the school"}


def at(place):
    """where something happens in a place: "in the park", "by the river"."""
    return AT.get(place, f"in the {place}")


def a_or_an(word):
    return ("an " if word[0] in "aeiou" else "a ") + word


def made_up_name(rng):
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


class Stories:
    def __init__(self, rng):
        self.rng = rng

    def pick(self, xs):
        return self.rng.choice(xs)

    def hero(self, name=None, kind=None):
        """name, kind (girl / boy / an animal), subject and object pronouns, possessive."""
        r = self.rng
        if kind is None:
            kind = self.pick(PEOPLE) if r.random() < 0.55 else self.pick(ANIMALS)
        if kind == "girl":
            gender = "f"
        elif kind == "boy":
            gender = "m"
        else:
            gender = r.choice("fm")
        if name is None:
            x = r.random()
            if x < 0.35:
                name = made_up_name(r)
            else:
                name = self.pick(NAMES_GIRL if gender == "f" else NAMES_BOY)
        he, him, his = ("she", "her", "her") if gender == "f" else ("he", "him", "his")
        return dict(name=name, kind=kind, he=he, him=him, his=his)

    def friend(self, exclude):
        while True:
            f = self.hero()
            if f["name"] != exclude:
                return f

    def story(self, name=None, kind=None):
        r = self.rng
        h = self.hero(name, kind)
        n, he, his = h["name"], h["he"], h["his"]
        He = he.capitalize()
        adj = self.pick(ADJ_HERO)
        place, where = self.pick(PLACES)
        s = []
        opening = self.pick(OPENINGS)
        if opening == "There was once":
            s.append(f"There was once {a_or_an(adj)} {h['kind']} named {n}.")
        else:
            s.append(f"{opening}, there was {a_or_an(adj)} {h['kind']} named {n}.")
        s.append(f"{n} lived {where}.")
        act = self.pick(ACTIVITIES)
        s.append(self.pick([f"{He} loved to {act}.", f"{n} liked to {act} every day.",
                            f"Every day, {n} would {act}."]))
        plot = r.choice([self.plot_find, self.plot_lost, self.plot_friend, self.plot_weather,
                         self.plot_food, self.plot_want])
        s += plot(h, place)
        if r.random() < 0.5:
            s.append(self.pick(["From that day on, ", "After that, ", "Since then, "]) +
                     f"{n} " + self.pick([f"was always {self.pick(FEELINGS_GOOD)}.",
                                          "remembered that day.",
                                          f"and {his} friends played together every day.",
                                          "knew what to do."]))
        if r.random() < 0.3:
            s.append(self.pick(["The lesson is: ", "The moral of the story is: "]) + self.pick(LESSONS))
        if r.random() < 0.3:
            s.append("The end.")
        return " ".join(s), n

    def plot_find(self, h, place):
        n, he = h["name"], h["he"]
        col, obj = self.pick(COLORS), self.pick(OBJECTS)
        s = [f"One day, {n} found {a_or_an(col)} {obj} {at(place)}.",
             self.pick([f"\"What a nice {obj}!\" said {n}.", f"{n} was very {self.pick(FEELINGS_GOOD)}.",
                        f"{he.capitalize()} picked up the {obj} and looked at it."])]
        f = self.friend(n)
        s.append(f"Then {n} saw {f['name']}, {a_or_an(self.pick(FRIEND_ADJ))} {f['kind']}.")
        s.append(self.pick([f"{f['name']} looked {self.pick(FEELINGS_BAD)}.",
                            f"\"That is my {obj},\" said {f['name']}. \"I lost it yesterday.\""]))
        s.append(self.pick([f"{n} gave the {col} {obj} to {f['name']}.",
                            f"{n} smiled and gave {f['him']} the {obj}."]))
        s.append(self.pick([f"\"Thank you, {n}!\" said {f['name']}.",
                            f"{f['name']} was so happy. \"You are a good friend, {n},\" {f['he']} said."]))
        return s

    def plot_lost(self, h, place):
        n, he, his = h["name"], h["he"], h["his"]
        col, obj = self.pick(COLORS), self.pick(OBJECTS)
        s = [f"{n} had {a_or_an(col)} {obj}. It was {his} favorite {obj}.",
             f"One day, {n} went to the {place} with the {obj}.",
             f"When it was time to go home, the {obj} was gone!",
             f"{n} felt {self.pick(FEELINGS_BAD)}. \"Where is my {obj}?\" {he} asked."]
        f = self.friend(n)
        s.append(f"{f['name']} the {f['kind']} came to help.")
        s.append(self.pick(["They looked under a tree and behind a big rock.",
                            f"They looked everywhere {at(place)}."]))
        s.append(self.pick([f"At last, {f['name']} found the {obj}.",
                            f"Then {n} saw something {col}. It was the {obj}!"]))
        s.append(f"\"Thank you, {f['name']},\" said {n}. {he.capitalize()} hugged {f['him']}.")
        return s

    def plot_friend(self, h, place):
        n, he = h["name"], h["he"]
        f = self.friend(n)
        act = self.pick(ACTIVITIES)
        s = [f"One day, {n} went to the {place}. {he.capitalize()} felt {self.pick(['lonely', 'a little sad', 'bored'])}.",
             f"Then {n} met {a_or_an(self.pick(FRIEND_ADJ))} {f['kind']} named {f['name']}.",
             f"\"Hello, {f['name']}. Do you want to {act} with me?\" asked {n}.",
             self.pick([f"\"Yes!\" said {f['name']}.", f"{f['name']} smiled and said, \"Yes, I would like that.\""]),
             f"{n} and {f['name']} {act if not act.startswith('look') else 'looked at the stars'} together all day."
             if not act.endswith("things") else f"{n} and {f['name']} built a little house together.",
             f"When the sun went down, {f['name']} said, \"See you tomorrow, {n}!\""]
        return s

    def plot_weather(self, h, place):
        n, he = h["name"], h["he"]
        w = self.pick(WEATHER)
        f = self.friend(n)
        s = [f"One day, {n} was playing {at(place)} when {w}.",
             f"{n} was {self.pick(FEELINGS_BAD)}. {he.capitalize()} did not know where to go.",
             f"Then {n} saw {f['name']}, {a_or_an(self.pick(FRIEND_ADJ))} {f['kind']}.",
             f"\"Come with me, {n},\" said {f['name']}. \"My house is warm and dry.\"",
             f"{n} went with {f['name']} and they had {self.pick(FOODS)} and {self.pick(['milk', 'tea', 'water', 'juice'])}.",
             f"Soon the {self.pick(['rain stopped', 'wind was quiet', 'sun came out'])}, and {n} went home {self.pick(FEELINGS_GOOD)}."]
        return s

    def plot_food(self, h, place):
        n, he = h["name"], h["he"]
        food = self.pick(FOODS)
        f = self.friend(n)
        s = [f"One day, {n} was very hungry. {he.capitalize()} wanted some {food}.",
             f"{n} looked in the kitchen, but there were no {food}." if food.endswith("s")
             else f"{n} looked in the kitchen, but there was no {food}.",
             f"So {n} went to see {f['name']} the {f['kind']}.",
             f"\"Do you have any {food}?\" asked {n}.",
             f"\"Yes, I do,\" said {f['name']}. \"Let us share.\"",
             f"{n} and {f['name']} ate the {food} together. It was very good.",
             f"\"Thank you, {f['name']},\" said {n}. \"Next time I will bring something for you.\""]
        return s

    def plot_want(self, h, place):
        n, he, him, his = h["name"], h["he"], h["him"], h["his"]
        col, obj = self.pick(COLORS), self.pick(OBJECTS)
        mom = self.pick(["mom", "dad", "grandma", "grandpa"])
        s = [f"{n} saw {a_or_an(col)} {obj} in a shop window. {he.capitalize()} wanted it very much.",
             f"\"Can I have the {obj}?\" {n} asked {his} {mom}.",
             f"\"If you help me at home, you can have it,\" said {his} {mom}.",
             f"So {n} helped every day. {he.capitalize()} cleaned the floor and watered the {self.pick(['plants', 'flowers', 'garden'])}.",
             f"After a week, {his} {mom} gave {him} the {col} {obj}.",
             f"{n} was so {self.pick(FEELINGS_GOOD)}. \"Thank you!\" {he} said, and played with the {obj} {where_short(place)}."]
        return s


def where_short(place):
    return "after school" if place == "school" else at(place)


if __name__ == "__main__":
    g = Stories(random.Random(1))
    for _ in range(5):
        print(g.story()[0], "\n")
